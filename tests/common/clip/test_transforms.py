"""CLIP4Cir TargetPad / SquarePad on hand-computed sizes and the full transforms' output."""
import pytest
import torch
from PIL import Image

from common.clip import CLIP_MEAN, CLIP_STD, SquarePad, TargetPad, get_transform


@pytest.mark.parametrize("size, padding", [
    ((100, 100), [0, 0, 0, 0]),      # ratio 1.0 < 1.25: unchanged
    ((124, 100), [0, 0, 0, 0]),      # ratio 1.24 < 1.25: unchanged
    ((125, 100), [0, 0, 0, 0]),      # ratio 1.25: padded to 125/1.25 = 100 high, nothing to add
    ((200, 100), [0, 30, 0, 30]),    # s = 160: vp = int((160 - 100) / 2) = 30
    ((100, 300), [70, 0, 70, 0]),    # s = 240: hp = int((240 - 100) / 2) = 70
    ((301, 100), [0, 70, 0, 70]),    # s = 240.8: vp = int(70.4) = 70
])
def test_targetpad_padding(size, padding):
    assert TargetPad(1.25).padding(*size) == padding
    padded = TargetPad(1.25)(Image.new("RGB", size, (255, 255, 255)))
    assert padded.size == (size[0] + padding[0] + padding[2], size[1] + padding[1] + padding[3])


def test_targetpad_pads_with_black_and_keeps_content():
    padded = TargetPad(1.25)(Image.new("RGB", (200, 100), (255, 255, 255)))
    assert padded.getpixel((0, 0)) == (0, 0, 0) and padded.getpixel((100, 80)) == (255, 255, 255)


def test_squarepad():
    assert SquarePad().padding(200, 101) == [0, 49, 0, 49]
    assert SquarePad()(Image.new("RGB", (200, 100))).size == (200, 200)


@pytest.mark.parametrize("kind", ["targetpad", "squarepad", "clip"])
def test_transform_output(kind):
    image = Image.new("L", (90, 40), 255)  # grey-scale input is converted to RGB
    out = get_transform(kind, 32)(image)
    assert out.shape == (3, 32, 32)
    white = (1 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(out[:, 16, 16], white, atol=1e-4)


def test_targetpad_vs_clip_transform_differ_on_wide_images():
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    black = -torch.tensor(CLIP_MEAN) / torch.tensor(CLIP_STD)
    padded = get_transform("targetpad", 32)(image)  # 200x160 -> 40x32 -> crop keeps black rows at the top
    assert torch.allclose(padded[:, 0, 16], black, atol=1e-4)
    assert not torch.allclose(get_transform("clip", 32)(image)[:, 0, 16], black, atol=1e-2)


def test_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        get_transform("random-crop")
