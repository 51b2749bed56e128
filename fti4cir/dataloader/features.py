"""Frozen-CLIP features FTI4CIR consumes — global feature + patch tokens before ln_post — cached on disk."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
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


class PatchTokens:
    """Patch tokens [N, T, W] kept as float16 in a `.npy` file and memory-mapped: rows are read (as float32) when
    indexed, so a training set larger than RAM works and the processes of one machine share the pages (100k
    ViT-L/14 images are 54 GB of float16 tokens, 108 GB as float32)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.array = np.load(self.path, mmap_mode="r")

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self.array.shape)

    def __len__(self) -> int:
        return self.array.shape[0]

    def __getitem__(self, rows) -> torch.Tensor:
        if isinstance(rows, torch.Tensor):
            rows = rows.tolist()
        return torch.from_numpy(np.array(self.array[rows], dtype=np.float32))


def _patches_file(path: Path) -> Path:
    return path.with_suffix(".patches.npy")


def _load_cached(path: Path, key: dict, names: Sequence[str]) -> tuple[torch.Tensor, PatchTokens] | None:
    """The cached (global, patch tokens) when both files exist and were written for exactly `key` and `names`."""
    if not path.is_file() or not _patches_file(path).is_file():
        return None
    try:
        cached = load_checkpoint(path)
        patches = PatchTokens(_patches_file(path))
    except (CheckpointError, OSError, ValueError):  # corrupt or half-copied: recompute
        return None
    if (not isinstance(cached, dict) or cached.get("key") != key or cached.get("names") != list(names)
            or len(patches) != len(names)):
        return None
    return cached["global"], patches


@torch.no_grad()
def image_features(backbone, names: Sequence[str], image_path: Callable[[str], Path], transform: Callable,
                   transform_id: str, cache_dir: str | Path | None, batch_size: int = 64, num_workers: int = 0,
                   progress: Callable | None = None, view: RandomView | None = None, mmap_patches: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | PatchTokens]:
    """(global [N, D] float32, patch tokens [N, T, W]) of `names`, cached as float16 under `cache_dir`.

    Patch tokens come back as a float32 tensor, or with `mmap_patches` (training; needs `cache_dir`) as the
    memory-mapped `PatchTokens` of the cache file, indexed like a tensor. Extraction writes the tokens batch by
    batch into the file, so neither path holds all of them in memory while extracting with a cache.
    `view` (training augmentation) transforms each image before `transform`. The cache key is common.retrieval's
    (backbone id, weight hash, preprocessing incl. the view, image list, dtype): any change means new files.
    """
    if not names:
        raise ValueError("image_features: empty image list")
    if mmap_patches and cache_dir is None:
        raise ValueError("image_features: mmap_patches needs a cache_dir to hold the token file")
    preprocessing = (f"{transform_id}|fti4cir.global+patch_tokens.npy"
                     + (f"|{view.cache_id()}" if view is not None else ""))
    key = gallery_cache_key(backbone, names, preprocessing, torch.float16) if cache_dir is not None else None
    path = cache_file(cache_dir, key) if key is not None else None
    cached = _load_cached(path, key, names) if path is not None else None
    if cached is None:
        cached = _extract(backbone, names, image_path, transform, path, key, batch_size, num_workers, progress, view)
    global_feat, patches = cached
    if isinstance(patches, PatchTokens) and not mmap_patches:
        patches = patches[list(range(len(patches)))]
    return global_feat.float(), patches


def _extract(backbone, names: Sequence[str], image_path: Callable[[str], Path], transform: Callable,
             path: Path | None, key: dict | None, batch_size: int, num_workers: int, progress: Callable | None,
             view: RandomView | None) -> tuple[torch.Tensor, torch.Tensor | PatchTokens]:
    """Encode `names`; with a cache `path`, stream the tokens into its `.npy` (then renamed) and save the rest."""
    loader = torch.utils.data.DataLoader(_Images([image_path(n) for n in names], transform, view), batch_size=batch_size,
                                         num_workers=num_workers)
    was_training = backbone.training
    backbone.eval()
    global_feats, patches, tokens_file, row = [], [], None, 0
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy") if path is not None else None
    try:
        for images in (progress(loader, desc="CLIP features") if progress else loader):
            images = images.to(backbone.device)
            global_feats.append(backbone.encode_image(images).cpu().half())
            batch = patch_tokens(backbone, images).cpu().half()
            if tmp is None:
                patches.append(batch)
                continue
            if tokens_file is None:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                tokens_file = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16,
                                                        shape=(len(names), *batch.shape[1:]))
            tokens_file[row:row + len(batch)] = batch.numpy()
            row += len(batch)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        backbone.train(was_training)
    global_feat = torch.cat(global_feats)
    if tmp is None:
        return global_feat, torch.cat(patches).float()
    tokens_file.flush()
    del tokens_file
    os.replace(tmp, _patches_file(path))  # tokens first: the .pt written last marks a complete pair
    save_atomic({"key": key, "names": list(names), "global": global_feat}, path)
    return global_feat, PatchTokens(_patches_file(path))
