import pytest

from common.data import DataFormatError, Shoes, ShoesTriplet


@pytest.fixture
def shoes_root(tmp_path, files):
    root = tmp_path / "shoes"
    files.json(root / "split.val.json", ["womens_boots/0/img_womens_boots_1.jpg", "womens_boots/0/img_womens_boots_2.jpg",
                                         "womens_pumps/1/img_womens_pumps_7.jpg"])
    files.json(root / "triplet.val.json", [{"ReferenceImageName": "/womens_boots/0/img_womens_boots_1.jpg",
                                            "ImageName": "womens_pumps/1/img_womens_pumps_7.jpg",
                                            "RelativeCaption": "is red and has a higher heel."}])
    files.image(root / "womens_boots/0/img_womens_boots_1.jpg")
    files.image(root / "womens_pumps/1/img_womens_pumps_7.jpg")
    return root


def test_names_are_basenames_without_jpg(shoes_root):
    reader = Shoes(shoes_root, "val")
    assert reader.queries == [ShoesTriplet("img_womens_boots_1", "img_womens_pumps_7", "is red and has a higher heel.")]
    assert reader.gallery("shoes.val") == ["img_womens_boots_1", "img_womens_boots_2", "img_womens_pumps_7"]
    assert reader.image_path("img_womens_boots_1") == shoes_root / "womens_boots/0/img_womens_boots_1.jpg"
    assert reader.missing_images() == ["img_womens_boots_2"]


def test_two_files_with_one_name_is_an_error(shoes_root, files):
    path = files.json(shoes_root / "triplet.val.json", [{"ReferenceImageName": "other/img_womens_boots_1.jpg",
                                                         "ImageName": "womens_pumps/1/img_womens_pumps_7.jpg",
                                                         "RelativeCaption": "x"}])
    with pytest.raises(DataFormatError, match=f"{path}: \\[0\\].ReferenceImageName: image name 'img_womens_boots_1'"):
        Shoes(shoes_root, "val")


def test_missing_split_file(shoes_root):
    with pytest.raises(DataFormatError, match="split.train.json: file: missing"):
        Shoes(shoes_root, "train")
