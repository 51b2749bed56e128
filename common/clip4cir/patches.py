"""Global and 13-patch local CLIP image features (CLIP4Cir family), cached on disk.

Local features follow FashionERN/SPIRIT's offline extraction: the image is resized to 360×360
(aspect ratio not kept), cut into a 2×2 grid then a 3×3 grid (row-major, 4 + 9 = 13 crops); each
crop goes through the backbone's own preprocessing at its native resolution and `encode_image`,
giving raw (not normalised) projected embeddings `[13, D]`. Use the same (fine-tuned) CLIP as the
global branch.

    extract_global_features(backbone, names, image_path_fn, cache_dir) -> Tensor [N, D]
    extract_patch_features(backbone, names, image_path_fn, cache_dir) -> Tensor [N, 13, D]

Both are cached through `common.retrieval.encode_gallery`: one float32 file per image list, keyed
by backbone id + weight hash + preprocessing id + image-list hash, so different weights never
reuse a stale cache.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from common.retrieval import encode_gallery, open_rgb

PATCH_RESIZE = 360
GRIDS = (2, 3)
NUM_PATCHES = sum(g * g for g in GRIDS)  # 13


def patch_boxes(size: int = PATCH_RESIZE, grids: Sequence[int] = GRIDS) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of every crop: each grid row-major, grids in order."""
    boxes = []
    for grid in grids:
        step = size // grid
        boxes.extend((col * step, row * step, (col + 1) * step, (row + 1) * step)
                     for row in range(grid) for col in range(grid))
    return boxes


def crop_patches(image: Image.Image) -> list[Image.Image]:
    """The 13 crops of an RGB image resized to 360×360."""
    resized = image.convert("RGB").resize((PATCH_RESIZE, PATCH_RESIZE), Image.LANCZOS)
    return [resized.crop(box) for box in patch_boxes()]


def _transform_id(backbone: torch.nn.Module, what: str) -> str:
    return f"{what}|targetpad1.25|{getattr(backbone, 'image_size', '?')}"


def extract_global_features(backbone: torch.nn.Module, names: Sequence[str], image_path_fn: Callable[[str], Path],
                            cache_dir: str | Path | None, batch_size: int = 64,
                            device: str | torch.device | None = None, weights_id: str | None = None) -> torch.Tensor:
    """Raw `encode_image` features `[N, D]` (float32) of `names` in order.

    `weights_id`: `common.retrieval.weights_fingerprint(backbone)` when already computed (saves hashing).
    """
    return encode_gallery(backbone, list(names), image_path_fn, cache_dir, _transform_id(backbone, "global"),
                          batch_size, dtype=torch.float32, device=device, weights_id=weights_id)


def extract_patch_features(backbone: torch.nn.Module, names: Sequence[str], image_path_fn: Callable[[str], Path],
                           cache_dir: str | Path | None, batch_size: int = 64,
                           device: str | torch.device | None = None, weights_id: str | None = None) -> torch.Tensor:
    """Raw 13-crop `encode_image` features `[N, 13, D]` (float32) of `names` in order (see `weights_id` above)."""
    names = list(names)
    if not names:
        raise ValueError("extract_patch_features: empty image list")
    crop_ids = [f"{name}#{k}" for name in names for k in range(NUM_PATCHES)]
    last: dict[str, list[Image.Image]] = {}

    def load_crop(crop_id: str) -> Image.Image:
        name, k = crop_id.rsplit("#", 1)
        if name not in last:
            last.clear()
            last[name] = crop_patches(open_rgb(image_path_fn(name)))
        return last[name][int(k)]

    features = encode_gallery(backbone, crop_ids, image_path_fn, cache_dir,
                              _transform_id(backbone, f"local{NUM_PATCHES}|resize{PATCH_RESIZE}|grids{GRIDS}"),
                              batch_size, load_image=load_crop, dtype=torch.float32, device=device,
                              weights_id=weights_id)
    return features.view(len(names), NUM_PATCHES, -1)
