import random

import pytest

from common.data import DataFormatError, FashionIQ, FashionIQTriplet, ImageRecord, fiq_caption


def test_reads_every_field_of_each_category(fiq_root):
    reader = FashionIQ(fiq_root, "val")
    assert len(reader) == 4
    assert reader.queries[0] == FashionIQTriplet("D1", "D2", ("is red.", "Has long sleeves?"), "dress")
    assert reader.queries[0].reference == "D1"
    assert [t.category for t in reader.queries] == ["dress", "dress", "shirt", "toptee"]
    assert [t.candidate for t in reader.triplets_of("shirt")] == ["S1"]


def test_test_split_has_no_target(fiq_root):
    reader = FashionIQ(fiq_root, "test", categories="dress")
    assert [t.target for t in reader.queries] == [None, None]
    assert reader.gallery("fiq.val_union") == ["D1", "D3"]


def test_galleries_by_protocol(fiq_root):
    reader = FashionIQ(fiq_root, "val", categories=["dress", "shirt"])
    assert reader.gallery() == ["D1", "D2", "D3", "D4", "S1", "S2"]
    assert reader.gallery("fiq.original", category="dress") == ["D1", "D2", "D3", "D4"]
    # union of target and candidate in first-seen order, target before candidate per triplet
    assert reader.gallery("fiq.val_union", category="dress") == ["D2", "D1", "D3"]
    with pytest.raises(DataFormatError, match="protocol"):
        reader.gallery("cirr.rc2")
    with pytest.raises(DataFormatError, match="category"):
        reader.gallery(category="toptee")


def test_classic_mode_lists_split_images(fiq_root):
    reader = FashionIQ(fiq_root, "train", categories="shirt", mode="classic")
    assert reader.queries == [ImageRecord("S1", "shirt"), ImageRecord("S2", "shirt")]


def test_image_paths_png_jpg_and_fti4cir_layout(fiq_root, files):
    reader = FashionIQ(fiq_root, "val")
    assert reader.image_path("D1") == fiq_root / "images" / "D1.png"
    assert reader.image_path("D4") == fiq_root / "images" / "D4.jpg"
    assert reader.missing_images() == ["T2"]
    files.image(fiq_root / "toptee" / "T2.jpg")
    assert reader.image_path("T2") == fiq_root / "toptee" / "T2.jpg"
    assert reader.missing_images() == []


def test_check_images_names_the_missing_file(fiq_root):
    with pytest.raises(DataFormatError) as err:
        FashionIQ(fiq_root, "val", check_images=True)
    assert "T2.png: image: missing (1 of" in str(err.value)


def test_eval_caption_capitalises_first_and_strips_both():
    assert fiq_caption(" is red.", "Has LONG sleeves?", "eval") == "Is red and Has LONG sleeves"
    assert fiq_caption("is red.", "has long sleeves", "both") == ("Is red and has long sleeves",
                                                                  "Has long sleeves and is red")


class _Fixed:
    def __init__(self, u):
        self.u = u

    def random(self):
        return self.u


@pytest.mark.parametrize("u, expected", [
    (0.0, "Is red and has sleeves"), (0.2499, "Is red and has sleeves"),
    (0.25, "Has sleeves"),  # the original's strict comparisons send the boundaries to the last branch
    (0.3, "Has sleeves and is red"), (0.5, "Has sleeves"), (0.6, "Is red"), (0.75, "Has sleeves"),
    (0.99, "Has sleeves"),
])
def test_train_caption_rules(u, expected):
    assert fiq_caption("is red", "has sleeves.", "train", rng=_Fixed(u)) == expected


def test_train_caption_frequencies_follow_quarters():
    rng = random.Random(0)
    outcomes = [fiq_caption("a", "b", "train", rng=rng) for _ in range(4000)]
    for text in ("A and b", "B and a", "A", "B"):
        assert abs(outcomes.count(text) / 4000 - 0.25) < 0.03


def test_unknown_caption_mode():
    with pytest.raises(ValueError, match="mode"):
        fiq_caption("a", "b", "random")
