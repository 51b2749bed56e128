import pytest

from common.data import CIRCO, CIRCOQuery, DataFormatError

INFO = {"images": [{"id": 5, "file_name": "000000000005.jpg", "height": 4},
                   {"id": 2, "file_name": "000000000002.jpg"},
                   {"id": 9, "file_name": "000000000009.jpg"}]}
VAL = [{"reference_img_id": 5, "target_img_id": 2, "relative_caption": "is at night", "shared_concept": "a cat",
        "gt_img_ids": [2, 9], "id": 0}]
TEST = [{"reference_img_id": 9, "relative_caption": "has two", "shared_concept": "a dog", "id": 3}]


@pytest.fixture
def circo_root(tmp_path, files):
    root = tmp_path / "CIRCO"
    files.json(root / "COCO2017_unlabeled" / "annotations" / "image_info_unlabeled2017.json", INFO)
    files.json(root / "annotations" / "val.json", VAL)
    files.json(root / "annotations" / "test.json", TEST)
    for name in ("000000000005.jpg", "000000000002.jpg"):
        files.image(root / "COCO2017_unlabeled" / "unlabeled2017" / name)
    return root


def test_reads_every_field_and_keeps_gallery_order(circo_root):
    reader = CIRCO(circo_root, "val")
    assert reader.queries == [CIRCOQuery(0, "5", "is at night", "a cat", "2", ("2", "9"))]
    assert reader.gallery() == ["5", "2", "9"]
    assert reader.gallery("circo.shared_concept") == reader.gallery("circo.relcap")
    assert reader.image_path("9") == circo_root / "COCO2017_unlabeled" / "unlabeled2017" / "000000000009.jpg"
    assert reader.missing_images() == ["9"]


def test_test_split_has_no_ground_truth(circo_root):
    (query,) = CIRCO(circo_root, "test").queries
    assert (query.query_id, query.reference, query.target, query.gt_ids) == (3, "9", None, ())


def test_ground_truth_outside_the_gallery_is_an_error(circo_root, files):
    path = files.json(circo_root / "annotations" / "val.json", [dict(VAL[0], gt_img_ids=[2, 77])])
    with pytest.raises(DataFormatError) as err:
        CIRCO(circo_root, "val")
    assert str(err.value) == f"{path}: [0].gt_img_ids[1]: image id 77 is not in image_info_unlabeled2017.json"
