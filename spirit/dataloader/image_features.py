"""Frozen-CLIP image features of a set of images: raw global embedding [N, D] and 13 patch embeddings [N, 13, D]."""
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from common.clip4cir.patches import extract_global_features, extract_patch_features


@dataclass
class ImageFeatures:
    """Row-aligned `names`, `global_features` [N, D] and `patch_features` [N, P, D] (raw, never normalised)."""

    names: list[str]
    global_features: torch.Tensor
    patch_features: torch.Tensor

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.global_features.shape[0] != n or self.patch_features.shape[0] != n:
            raise ValueError(f"ImageFeatures: {n} names, {self.global_features.shape[0]} global rows, "
                             f"{self.patch_features.shape[0]} patch rows")
        self._row = {name: i for i, name in enumerate(self.names)}
        if len(self._row) != n:
            raise ValueError("ImageFeatures: duplicate image names")

    @property
    def dim(self) -> int:
        return self.global_features.shape[1]

    def rows(self, names: Sequence[str]) -> torch.Tensor:
        missing = [n for n in names if n not in self._row]
        if missing:
            raise KeyError(f"ImageFeatures: no features for image {missing[0]!r} ({len(missing)} missing)")
        return torch.tensor([self._row[n] for n in names], dtype=torch.long)

    def select(self, names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(global [B, D], patches [B, P, D]) for `names`."""
        idx = self.rows(names)
        return self.global_features[idx], self.patch_features[idx]


def extract_image_features(backbone: torch.nn.Module, names: Sequence[str], image_path_fn: Callable[[str], Path],
                           cache_dir: str | Path | None, batch_size: int = 32, device: torch.device | str | None = None) -> ImageFeatures:
    """Global + 13-patch frozen-CLIP features of `names` via common.clip4cir (cached on disk by weights and image list)."""
    names = list(names)
    global_features = extract_global_features(backbone, names, image_path_fn, cache_dir, batch_size, device)
    patch_features = extract_patch_features(backbone, names, image_path_fn, cache_dir, batch_size, device)
    return ImageFeatures(names, global_features, patch_features)


def merge_features(parts: Sequence[ImageFeatures]) -> ImageFeatures:
    """One bank over several feature sets (e.g. train and val images); a name seen twice keeps its first row."""
    names, rows_g, rows_p, seen = [], [], [], set()
    for part in parts:
        keep = [i for i, n in enumerate(part.names) if n not in seen]
        seen.update(part.names)
        names.extend(part.names[i] for i in keep)
        rows_g.append(part.global_features[keep])
        rows_p.append(part.patch_features[keep])
    return ImageFeatures(names, torch.cat(rows_g), torch.cat(rows_p))
