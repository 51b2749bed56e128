"""13-patch crops, feature extraction order and the cache keying of common.clip4cir.patches."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from common.clip4cir.patches import (NUM_PATCHES, crop_patches, extract_global_features,
                                     extract_patch_features, patch_boxes)


class MeanColorEncoder(nn.Module):
    """A fake backbone: the image feature is a linear map of the mean RGB colour."""

    name, backend, image_size = "fake-mean", "test", 8

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 4, bias=False)
        nn.init.zeros_(self.proj.weight)
        with torch.no_grad():
            self.proj.weight[:3].copy_(torch.eye(3))

    def preprocess(self, image):
        return torch.from_numpy(np.asarray(image.resize((8, 8)), dtype=np.float32) / 255.0).permute(2, 0, 1)

    def encode_image(self, images):
        return self.proj(images.mean(dim=(2, 3)))


def quadrant_image(path):
    """360×360 image: the 3×3 cell (r, c) has red = 20r + 60, green = 20c + 60; blue marks the 2×2 quadrant."""
    arr = np.zeros((360, 360, 3), dtype=np.uint8)
    for r in range(3):
        for c in range(3):
            arr[r * 120:(r + 1) * 120, c * 120:(c + 1) * 120, 0] = 20 * r + 60
            arr[r * 120:(r + 1) * 120, c * 120:(c + 1) * 120, 1] = 20 * c + 60
    for q in range(4):
        r, c = divmod(q, 2)
        arr[r * 180:(r + 1) * 180, c * 180:(c + 1) * 180, 2] = 50 * q
    Image.fromarray(arr).save(path)


def test_patch_boxes_order():
    boxes = patch_boxes()
    assert len(boxes) == NUM_PATCHES == 13
    assert boxes[:4] == [(0, 0, 180, 180), (180, 0, 360, 180), (0, 180, 180, 360), (180, 180, 360, 360)]
    assert boxes[4] == (0, 0, 120, 120) and boxes[5] == (120, 0, 240, 120) and boxes[7] == (0, 120, 120, 240)
    assert boxes[-1] == (240, 240, 360, 360)


def test_crops_resize_without_keeping_aspect(tmp_path):
    Image.new("RGB", (100, 40), (10, 20, 30)).save(tmp_path / "wide.png")
    crops = crop_patches(Image.open(tmp_path / "wide.png"))
    assert [c.size for c in crops] == [(180, 180)] * 4 + [(120, 120)] * 9


def test_patch_features_follow_crop_order_and_cache(tmp_path):
    quadrant_image(tmp_path / "a.png")
    Image.new("RGB", (50, 70), (255, 0, 0)).save(tmp_path / "b.png")
    enc = MeanColorEncoder()
    path = lambda name: tmp_path / f"{name}.png"  # noqa: E731
    feats = extract_patch_features(enc, ["a", "b"], path, tmp_path / "cache")
    assert feats.shape == (2, 13, 4) and feats.dtype == torch.float32
    blue = feats[0, :4, 2] * 255
    assert torch.allclose(blue, torch.tensor([0.0, 50, 100, 150]), atol=1.5)
    red, green = feats[0, 4:, 0] * 255, feats[0, 4:, 1] * 255
    assert torch.allclose(red, torch.tensor([60.0, 60, 60, 80, 80, 80, 100, 100, 100]), atol=1.5)
    assert torch.allclose(green, torch.tensor([60.0, 80, 100] * 3), atol=1.5)
    assert torch.allclose(feats[1, :, 0], torch.ones(13), atol=1e-3)
    # cached: identical without the images
    (tmp_path / "a.png").unlink()
    again = extract_patch_features(enc, ["a", "b"], path, tmp_path / "cache")
    assert torch.equal(again, feats)
    # different weights never reuse the cache
    with torch.no_grad():
        enc.proj.weight.mul_(2)
    with pytest.raises(FileNotFoundError):
        extract_patch_features(enc, ["a", "b"], path, tmp_path / "cache")


def test_global_features_are_raw_encode_image(tmp_path):
    Image.new("RGB", (30, 30), (0, 255, 0)).save(tmp_path / "g.png")
    feats = extract_global_features(MeanColorEncoder(), ["g"], lambda n: tmp_path / f"{n}.png", None)
    assert torch.allclose(feats, torch.tensor([[0.0, 1.0, 0.0, 0.0]]), atol=1e-4)
