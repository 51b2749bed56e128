import pytest
from PIL import Image

from common.data import DataFormatError, GeneCIS, GeneCISImage, GeneCISTemplate, genecis_crop


@pytest.fixture
def genecis_root(tmp_path, files):
    root = tmp_path / "genecis"
    files.json(root / "change_object.json", [{"condition": "wall", "reference": {"val_image_id": 189213},
                                              "target": {"val_image_id": 153527},
                                              "gallery": [{"val_image_id": 7}, {"val_image_id": 189213}]}])
    files.json(root / "focus_attribute.json", [{"condition": "color",
                                                "reference": {"image_id": "10", "instance_bbox": [50, 10, 20, 10]},
                                                "target": {"image_id": 20, "instance_bbox": [5, 5, 20, 10]},
                                                "gallery": [{"image_id": "10", "instance_bbox": [0, 0, 4, 4]}]}])
    files.image(root / "val2017" / "000000153527.jpg")
    files.image(root / "VG_100K_all" / "10.jpg", color=(255, 255, 255), size=(100, 50))
    return root


def test_object_task_keeps_the_condition_and_puts_the_target_first(genecis_root):
    reader = GeneCIS(genecis_root, "change_object")
    (template,) = reader.queries
    assert template == GeneCISTemplate(GeneCISImage("189213"), GeneCISImage("153527"), "wall",
                                       (GeneCISImage("7"), GeneCISImage("189213")))
    assert [c.name for c in template.candidates] == ["153527", "7", "189213"]
    assert reader.protocols == ("genecis.change_object",)
    assert reader.gallery("genecis.change_object") == ["153527", "7", "189213"]
    assert reader.image_path("7") == genecis_root / "val2017" / "000000000007.jpg"
    assert reader.missing_images() == ["189213", "7"]


def test_attribute_task_reads_boxes_and_crops_with_the_official_quirk(genecis_root):
    reader = GeneCIS(genecis_root, "focus_attribute")
    template = reader.queries[0]
    assert template.reference == GeneCISImage("10", (50.0, 10.0, 20.0, 10.0))
    assert template.target.name == "20"
    # left = 50 - 14 = 36, top = 10 - 7 = 3, right = 36 + 34 = 70 (= x + w), bottom = 3 + 17 = 20
    crop = reader.load_image(template.reference)
    assert crop.size == (34, 34)
    rows = [crop.getpixel((17, y)) for y in range(34)]
    assert rows[:8] == [(0, 0, 0)] * 8 and rows[8:25] == [(255, 255, 255)] * 17 and rows[25:] == [(0, 0, 0)] * 9


def test_crop_clamps_at_the_border_then_extends_right():
    image = Image.new("L", (100, 50), 255)
    crop = genecis_crop(image, (5, 5, 20, 10))  # left = top = 0, right = 34, bottom = 17
    assert crop.size == (34, 34) and crop.getpixel((0, 0)) == 0 and crop.getpixel((33, 8)) == 255


def test_bad_box(genecis_root, files):
    path = files.json(genecis_root / "focus_attribute.json",
                      [{"condition": "c", "reference": {"image_id": 1, "instance_bbox": [1, 2, 3]},
                        "target": {"image_id": 1, "instance_bbox": [1, 2, 3, 4]}, "gallery": []}])
    with pytest.raises(DataFormatError, match=f"{path}: \\[0\\].reference.instance_bbox: expected 4 numbers"):
        GeneCIS(genecis_root, "focus_attribute")
