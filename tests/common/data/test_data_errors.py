"""Bad input: each case must raise one DataFormatError line naming the file and the field."""
import pytest

from common.data import CIRCO, CIRR, DataFormatError, Fashion200k, FashionIQ, FashionMT, Shoes


def _fiq_captions(root, files, entries):
    return files.json(root / "captions" / "cap.dress.val.json", entries)


def malformed_json(root, files):
    path = root / "captions" / "cap.dress.val.json"
    path.write_text('[{"candidate": "D1",, }]')
    return lambda: FashionIQ(root, "val", "dress"), path.name, "line 1 column"


def missing_key(root, files):
    path = _fiq_captions(root, files, [{"target": "D2", "captions": ["a", "b"]}])
    return lambda: FashionIQ(root, "val", "dress"), path.name, "[0].candidate: missing key"


def wrong_type(root, files):
    path = _fiq_captions(root, files, [{"target": "D2", "candidate": "D1", "captions": "a and b"}])
    return lambda: FashionIQ(root, "val", "dress"), path.name, "[0].captions: expected list, got str"


def wrong_caption_count(root, files):
    path = _fiq_captions(root, files, [{"target": "D2", "candidate": "D1", "captions": ["a"]}])
    return lambda: FashionIQ(root, "val", "dress"), path.name, "[0].captions: expected 2 entries, got 1"


def unknown_category(root, files):
    return lambda: FashionIQ(root, "val", "skirt"), str(root), "category: unknown value 'skirt'"


def unknown_split(root, files):
    return lambda: FashionIQ(root, "dev", "dress"), str(root), "split: unknown value 'dev'"


def empty_split(root, files):
    path = files.json(root / "image_splits" / "split.dress.val.json", [])
    return lambda: FashionIQ(root, "val", "dress"), path.name, "top level: empty split"


def wrong_root(root, files):
    return lambda: FashionIQ(root.parent, "val"), str(root.parent), "root: not a FashionIQ folder"


def missing_image_when_checked(root, files):
    return lambda: FashionIQ(root, "val", check_images=True), "T2.png", "image: missing"


def cirr_bool_pairid(root, files):
    cap = files.json(root / "cirr" / "captions" / "cap.rc2.val.json",
                     [{"pairid": True, "reference": "a", "target_hard": "b", "caption": "c",
                       "img_set": {"id": 1, "members": list("abcdef")}}])
    files.json(root / "cirr" / "image_splits" / "split.rc2.val.json", {n: f"./dev/{n}.png" for n in "abcdef"})
    return lambda: CIRR(root, "val"), cap.name, "[0].pairid: expected int, got bool"


def cirr_short_group(root, files):
    cap = files.json(root / "cirr" / "captions" / "cap.rc2.val.json",
                     [{"pairid": 1, "reference": "a", "target_hard": "b", "caption": "c",
                       "img_set": {"id": 1, "members": list("abcde")}}])
    files.json(root / "cirr" / "image_splits" / "split.rc2.val.json", {n: f"./dev/{n}.png" for n in "abcdef"})
    return lambda: CIRR(root, "val"), cap.name, "[0].img_set.members: expected 6 entries, got 5"


def circo_info_without_images(root, files):
    info = files.json(root / "COCO2017_unlabeled" / "annotations" / "image_info_unlabeled2017.json", {"info": {}})
    files.json(root / "annotations" / "val.json", [])
    return lambda: CIRCO(root, "val"), info.name, "top level.images: missing key"


def f200k_short_label_line(root, files):
    path = files.text(root / "labels" / "top_test_detect_all.txt", "women/a.jpeg\t0.9\tred top\nwomen/b.jpeg red\n")
    return lambda: Fashion200k(root, "test"), path.name, "line 2: expected 3 tab-separated fields"


def fashionmt_non_string_field(root, files):
    fields = {k: "x" for k in ("ref", "tar1", "tar2", "tar3", "mod1", "mod2", "mod3", "cap0", "cap1", "cap2")}
    path = files.json(root / "modifiers" / "shoes_test_cap.json", [dict(fields, cap3=3)])
    files.text(root / "modifiers" / "shoes_index_names.txt", "x\n")
    return lambda: FashionMT(root, "test", "shoes"), path.name, "[0].cap3: expected str, got int"


def shoes_triplets_not_a_list(root, files):
    files.json(root / "split.val.json", ["a/b.jpg"])
    path = files.json(root / "triplet.val.json", {"ReferenceImageName": "a/b.jpg"})
    return lambda: Shoes(root, "val"), path.name, "top level: expected a list, got dict"


CASES = [malformed_json, missing_key, wrong_type, wrong_caption_count, unknown_category, unknown_split, empty_split,
         wrong_root, missing_image_when_checked, cirr_bool_pairid, cirr_short_group, circo_info_without_images,
         f200k_short_label_line, fashionmt_non_string_field, shoes_triplets_not_a_list]
FIQ_CASES = CASES[:9]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_one_line_error_names_file_and_field(case, fiq_root, tmp_path, files):
    root = fiq_root if case in FIQ_CASES else tmp_path / case.__name__
    if case not in FIQ_CASES:
        for sub in ("cirr/captions", "cirr/image_splits", "annotations", "COCO2017_unlabeled", "labels", "modifiers"):
            (root / sub).mkdir(parents=True, exist_ok=True)
    build, file_name, field_and_problem = case(root, files)
    with pytest.raises(DataFormatError) as err:
        build()
    message = str(err.value)
    assert "\n" not in message
    assert file_name in message and field_and_problem in message
    assert message.index(file_name) < message.index(field_and_problem)
    assert isinstance(err.value, ValueError)
