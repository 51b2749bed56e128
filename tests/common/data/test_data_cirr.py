import pytest

from common.data import CIRR, CIRRTriplet, DataFormatError, ImageRecord

MEMBERS = ["dev-1-0-img0", "dev-1-0-img1", "dev-2-0-img0", "dev-2-0-img1", "dev-3-0-img0", "dev-3-0-img1"]


def write_cirr(files, root, split="val", folder="dev"):
    members = [m.replace("dev", folder) for m in MEMBERS]
    entries = [{"pairid": 7, "reference": members[0], "target_hard": members[2],
                "target_soft": {members[2]: 1.0, members[3]: -1.0}, "caption": "Add a dog",
                "img_set": {"id": 3, "members": members, "reference_rank": 0, "target_rank": 2}}]
    if split == "test1":
        entries = [{"pairid": 9, "reference": members[1], "caption": "no dog",
                    "img_set": {"id": 4, "members": members, "reference_rank": 1}}]
    subdir = "train/5" if folder == "train" else folder
    files.json(root / "cirr" / "captions" / f"cap.rc2.{split}.json", entries)
    files.json(root / "cirr" / "image_splits" / f"split.rc2.{split}.json",
               {m: f"./{subdir}/{m}.png" for m in members + [f"{folder}-9-9-img0"]})
    return members


@pytest.fixture
def cirr_root(tmp_path, files):
    root = tmp_path / "cirr_dataset"
    for name in write_cirr(files, root, "val"):
        files.image(root / "dev" / f"{name}.png")
    write_cirr(files, root, "test1", "test1")
    write_cirr(files, root, "train", "train")
    return root


def test_reads_every_field(cirr_root):
    reader = CIRR(cirr_root, "val")
    assert reader.queries == [CIRRTriplet(7, MEMBERS[0], "Add a dog", tuple(MEMBERS), 3, 0, MEMBERS[2], 2,
                                          {MEMBERS[2]: 1.0, MEMBERS[3]: -1.0})]
    assert reader.gallery() == MEMBERS + ["dev-9-9-img0"]
    assert reader.gallery("cirr.rc2") == reader.gallery()


def test_test_alias_and_missing_targets(cirr_root):
    reader = CIRR(cirr_root, "test")
    assert reader.split == "test1"
    (query,) = reader.queries
    assert (query.pairid, query.reference, query.target, query.target_rank, query.target_soft) == \
        (9, "test1-1-0-img1", None, None, {})


def test_image_paths_follow_the_split_file(cirr_root):
    reader = CIRR(cirr_root, "train")
    assert reader.image_path("train-1-0-img0") == cirr_root / "train" / "5" / "train-1-0-img0.png"
    val = CIRR(cirr_root, "val")
    assert val.missing_images() == ["dev-9-9-img0"]
    with pytest.raises(DataFormatError, match="split.rc2.val.json: nope: image not listed"):
        val.image_path("nope")


def test_classic_mode(cirr_root):
    reader = CIRR(cirr_root, "val", mode="classic")
    assert reader.queries[0] == ImageRecord(MEMBERS[0], "val")
    assert len(reader.queries) == 7


def test_member_not_in_split_file_is_an_error(cirr_root, files):
    path = cirr_root / "cirr" / "captions" / "cap.rc2.val.json"
    entries = [{"pairid": 7, "reference": MEMBERS[0], "target_hard": MEMBERS[2], "caption": "x",
                "img_set": {"id": 3, "members": MEMBERS[:5] + ["ghost"]}}]
    files.json(path, entries)
    with pytest.raises(DataFormatError) as err:
        CIRR(cirr_root, "val")
    assert str(err.value) == f"{path}: [0].img_set.members[5]: image 'ghost' is not listed in split.rc2.val.json"
