import pytest

from common.data import DataFormatError, FashionMT, FashionMTSession


def session(prefix, images, mod3):
    return {"ref": images[0], "tar1": images[1], "tar2": images[2], "tar3": images[3],
            "mod1": "1. is red 2. longer 3. plain ", "mod2": "1. is blue ", "mod3": mod3,
            "cap0": f"{prefix} zero", "cap1": f"{prefix} one", "cap2": f"{prefix} two", "cap3": f"{prefix} three"}


FC_IMAGES = ["101/a.jpg", "102/b.jpg", "103/c.jpg", "104/d.jpg"]
FIQ_IMAGES = [f"fashion-iq/B0{i}.png" for i in range(4)]
K200_IMAGES = [f"women/dresses/x/{i}/{i}_0.jpeg" for i in range(4)]


@pytest.fixture
def mt_root(tmp_path, files):
    root = tmp_path / "FashionMT"
    mods = root / "modifiers"
    keep = "1. is green 4. keep the FIRST's collar design and keep the SECOND's color design"
    files.json(mods / "FC_train_cap.json", [session("fc", FC_IMAGES, keep)])
    files.json(mods / "FC_test_cap.json", [session("fc", FC_IMAGES[::-1], keep)])
    files.text(mods / "FC_index_names.txt", "\n".join(FC_IMAGES) + "\n")
    files.json(mods / "FC-caption.json", {"101": "red shirt", "104": "blue shirt"})
    files.json(mods / "Fiq_val_cap.json", [session("fiq", FIQ_IMAGES, keep)])
    files.text(mods / "Fiq_index_names.txt", "B00\nB01\nB02\nB03\n")
    files.text(root / "captions" / "fiq" / "B02.txt", "a dress\n")
    files.json(mods / "200k_test_cap.json", [session("k", K200_IMAGES, "I prefer the SECOND, and 1. is long "),
                                             session("k", K200_IMAGES, "1. is short ")])
    files.text(mods / "200k_index_names.txt", "\n".join(K200_IMAGES))
    files.text(root / "captions" / "200k" / "2.txt", "long dress")
    for name in FC_IMAGES:
        files.image(root / "images" / name)
    return root


def test_reads_every_field_and_the_split_files(mt_root):
    reader = FashionMT(mt_root, "train", "fc")
    assert reader.kind == "combination"
    (s,) = reader.queries
    assert s == FashionMTSession(*FC_IMAGES, "1. is red 2. longer 3. plain ", "1. is blue ", s.mod3,
                                 "fc zero", "fc one", "fc two", "fc three")
    assert s.images == tuple(FC_IMAGES) and s.captions[3] == "fc three" and s.modifiers[1] == "1. is blue "
    assert FashionMT(mt_root, "test", "fc").queries[0].ref == "104/d.jpg"
    assert FashionMT(mt_root, "val", "fiq").session_file.name == "Fiq_val_cap.json"


def test_gallery_names_and_captions(mt_root):
    fc = FashionMT(mt_root, "test", "fc")
    assert fc.gallery("fashionmt.final_turn") == FC_IMAGES
    assert fc.gallery_caption("104/d.jpg") == "blue shirt"
    assert fc.image_path("101/a.jpg") == mt_root / "images" / "101/a.jpg"
    assert fc.image_path("/abs/x.jpg").as_posix() == "/abs/x.jpg"
    assert fc.missing_images() == []
    fiq = FashionMT(mt_root, "test", "fiq")
    assert fiq.gallery() == FIQ_IMAGES  # bare ASINs become fashion-iq/{asin}.png like the records
    assert fiq.gallery_caption("fashion-iq/B02.png") == "a dress"
    k200 = FashionMT(mt_root, "test", "200k")
    assert k200.kind == "rollback"
    assert k200.gallery_caption("women/dresses/x/2/2_0.jpeg") == "long dress"
    with pytest.raises(DataFormatError, match="FC-caption.json: 102: no caption"):
        fc.gallery_caption("102/b.jpg")
    with pytest.raises(DataFormatError, match="3.txt: caption: missing caption file"):
        k200.gallery_caption("women/dresses/x/3/3_0.jpeg")


def test_rollback_reference_is_chosen_from_the_modifier(mt_root):
    sessions = FashionMT(mt_root, "test", "200k").queries
    assert [s.rollback_index for s in sessions] == [1, 2]
    assert FashionMT(mt_root, "train", "fc").queries[0].rollback_index == 0


def test_unknown_subset(mt_root):
    with pytest.raises(DataFormatError, match="subset: unknown value 'fashiongen'"):
        FashionMT(mt_root, "test", "fashiongen")
