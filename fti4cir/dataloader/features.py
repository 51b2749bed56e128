"""Frozen-CLIP features FTI4CIR consumes — global feature + patch tokens before ln_post — cached on disk."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from common.checkpoint import CheckpointError, load_checkpoint, save_atomic
from common.retrieval import cache_file, gallery_cache_key


class RandomView:
    """A label-preserving view of an image: a crop of `min_scale`..100 % of each side at a random place, flipped
    left-right half the time. Draws come from (seed, view, image index), so view v of an image is the same in every
    run and under any number of loader workers; colours are untouched (they are what captions describe)."""

    def __init__(self, seed: int, view: int, min_scale: float = 0.8):
        if view < 1:
            raise ValueError(f"RandomView: view must be >= 1 (view 0 is the unaugmented image), got {view}")
        self.seed, self.view, self.min_scale = seed, view, min_scale

    def __call__(self, image: Image.Image, index: int) -> Image.Image:
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.view) * 1_000_003 + index)
        draw = torch.rand(4, generator=generator).tolist()
        scale = self.min_scale + (1 - self.min_scale) * draw[0]
        width, height = image.size
        crop_w, crop_h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = round((width - crop_w) * draw[1]), round((height - crop_h) * draw[2])
        image = image.crop((left, top, left + crop_w, top + crop_h))
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if draw[3] < 0.5 else image

    def cache_id(self) -> str:
        return f"view{self.view}.seed{self.seed}.min{self.min_scale:g}"


class _Images(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], transform: Callable, view: RandomView | None = None):
        self.paths, self.transform, self.view = list(paths), transform, view

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.paths[index]) as image:
            image = image.convert("RGB")
            return self.transform(self.view(image, index) if self.view is not None else image)


def patch_tokens(backbone, images: torch.Tensor) -> torch.Tensor:
    """The original's `get_img_patch_feats`: last-block tokens before ln_post, CLS included (ViT; ResNet: final map)."""
    return backbone.encode_image_tokens(images, after_ln_post=False, include_cls=not backbone.is_resnet)


@torch.no_grad()
def image_features(backbone, names: Sequence[str], image_path: Callable[[str], Path], transform: Callable,
                   transform_id: str, cache_dir: str | Path | None, batch_size: int = 64, num_workers: int = 0,
                   progress: Callable | None = None, view: RandomView | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(global [N, D] float32, patch tokens [N, T, W] float32) of `names`; stored as float16 under `cache_dir`.

    `view` (training augmentation) transforms each image before `transform`. The cache key is common.retrieval's
    (backbone id, weight hash, preprocessing incl. the view, image list, dtype), so any change of weights,
    transform, view or images means a new file.
    """
    if not names:
        raise ValueError("image_features: empty image list")
    preprocessing = f"{transform_id}|fti4cir.global+patch_tokens" + (f"|{view.cache_id()}" if view is not None else "")
    key = (gallery_cache_key(backbone, names, preprocessing, torch.float16) if cache_dir is not None else None)
    path = cache_file(cache_dir, key) if key is not None else None
    if path is not None and path.is_file():
        try:
            cached = load_checkpoint(path)
        except (CheckpointError, OSError):
            cached = None
        if cached is not None and cached.get("key") == key and cached.get("names") == list(names):
            return cached["global"].float(), cached["patches"].float()
    loader = torch.utils.data.DataLoader(_Images([image_path(n) for n in names], transform, view), batch_size=batch_size,
                                         num_workers=num_workers)
    was_training = backbone.training
    backbone.eval()
    global_feats, patches = [], []
    for images in (progress(loader, desc="CLIP features") if progress else loader):
        images = images.to(backbone.device)
        global_feats.append(backbone.encode_image(images).cpu().half())
        patches.append(patch_tokens(backbone, images).cpu().half())
    backbone.train(was_training)
    result = {"key": key, "names": list(names), "global": torch.cat(global_feats), "patches": torch.cat(patches)}
    if path is not None:
        save_atomic(result, path)
    return result["global"].float(), result["patches"].float()
