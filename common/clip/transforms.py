"""Image preprocessing used by the CIR papers: CLIP4Cir TargetPad/SquarePad and the plain CLIP transform."""
from __future__ import annotations

from typing import Callable

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision import transforms as T

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TRANSFORM_KINDS = ("targetpad", "squarepad", "clip")


class TargetPad:
    """Zero-pad an image whose aspect ratio is at least `target_ratio` so that it becomes `target_ratio` (CLIP4Cir)."""

    def __init__(self, target_ratio: float = 1.25) -> None:
        if target_ratio < 1.0:
            raise ValueError(f"TargetPad: target_ratio must be >= 1, got {target_ratio}")
        self.target_ratio = target_ratio

    def padding(self, width: int, height: int) -> list[int]:
        """[left, top, right, bottom] padding the original applies to a `width` x `height` image."""
        if max(width, height) / min(width, height) < self.target_ratio:
            return [0, 0, 0, 0]
        scaled_max = max(width, height) / self.target_ratio
        horizontal = max(int((scaled_max - width) / 2), 0)
        vertical = max(int((scaled_max - height) / 2), 0)
        return [horizontal, vertical, horizontal, vertical]

    def __call__(self, image: Image.Image) -> Image.Image:
        pad = self.padding(*image.size)
        if not any(pad):
            return image
        return TF.pad(image, pad, fill=0, padding_mode="constant")

    def __repr__(self) -> str:
        return f"TargetPad(target_ratio={self.target_ratio})"


class SquarePad:
    """Zero-pad an image to a square (CLIP4Cir SquarePad)."""

    def padding(self, width: int, height: int) -> list[int]:
        """[left, top, right, bottom] padding the original applies to a `width` x `height` image."""
        side = max(width, height)
        horizontal = int((side - width) / 2)
        vertical = int((side - height) / 2)
        return [horizontal, vertical, horizontal, vertical]

    def __call__(self, image: Image.Image) -> Image.Image:
        return TF.pad(image, self.padding(*image.size), fill=0, padding_mode="constant")

    def __repr__(self) -> str:
        return "SquarePad()"


def _to_rgb(image: Image.Image) -> Image.Image:
    return image.convert("RGB")


def get_transform(kind: str = "targetpad", size: int = 224,
                  target_ratio: float = 1.25) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image -> normalised [3, size, size] tensor.

    Optional zero padding ("targetpad": CLIP4Cir TargetPad(target_ratio); "squarepad"; "clip": none), then bicubic
    short-side resize to `size`, center crop, RGB, ToTensor and the CLIP mean/std.
    """
    if kind not in TRANSFORM_KINDS:
        raise ValueError(f"get_transform: kind must be one of {TRANSFORM_KINDS}, got {kind!r}")
    pad = {"targetpad": [TargetPad(target_ratio)], "squarepad": [SquarePad()], "clip": []}[kind]
    return T.Compose(pad + [
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        _to_rgb,
        T.ToTensor(),
        T.Normalize(CLIP_MEAN, CLIP_STD),
    ])
