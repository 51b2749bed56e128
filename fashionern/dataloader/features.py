"""Frozen-CLIP feature stores: global + 13-patch image features and caption tokens / vanilla text features.

The CLIP is frozen, so image features are extracted once (cached on disk by `common.clip4cir`)
and looked up by name each step. Captions are tokenized once; their vanilla (no-TME) text
features are computed once too when they fit in memory, else per batch.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch

from common.clip4cir import extract_global_features, extract_patch_features
from common.dist import barrier, is_dist, is_main
from common.retrieval import weights_fingerprint
from fashionern.models.tme import TextTower

TEXT_CACHE_LIMIT_BYTES = 2 * 1024 ** 3


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def main_rank_first(fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Run `fn` on rank 0 first (it fills the disk cache), then on the other ranks (cache hits)."""
    if not is_dist():
        return fn()
    result = fn() if is_main() else None
    barrier()
    return result if result is not None else fn()


class ImageFeatures:
    """Raw CLIP global `[N, D]` and 13-patch `[N, 13, D]` features of a set of images, looked up by name."""

    def __init__(self, backbone: torch.nn.Module, names: Sequence[str], image_path: Callable[[str], Path],
                 cache_dir: str | Path | None, batch_size: int = 64):
        self.names = _unique(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        weights = weights_fingerprint(backbone)
        self.glob = main_rank_first(lambda: extract_global_features(backbone, self.names, image_path, cache_dir,
                                                                    batch_size, weights_id=weights))
        self.local = main_rank_first(lambda: extract_patch_features(backbone, self.names, image_path, cache_dir,
                                                                    batch_size, weights_id=weights))

    def rows(self, names: Sequence[str]) -> torch.Tensor:
        try:
            return torch.tensor([self.index[n] for n in names], dtype=torch.long)
        except KeyError as err:
            raise KeyError(f"image {err.args[0]!r} has no extracted features") from None

    def lookup(self, names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.rows(names)
        return self.glob[rows], self.local[rows]


class TextFeatures:
    """Token ids of every caption and, for the no-TME model, the frozen CLIP (global, sequence) features."""

    def __init__(self, backbone: torch.nn.Module, captions: Sequence[str], tower: TextTower, vanilla: bool,
                 batch_size: int = 256):
        self.captions = _unique(captions)
        self.index = {c: i for i, c in enumerate(self.captions)}
        self.ids = torch.cat([backbone.tokenize(self.captions[i:i + batch_size]).cpu()
                              for i in range(0, len(self.captions), batch_size)])
        self.tower = tower
        self.glob = self.seq = None
        size = len(self.captions) * self.ids.shape[1] * tower.embed_dim * 4
        if vanilla and size <= TEXT_CACHE_LIMIT_BYTES:
            parts = [self._encode(self.ids[i:i + batch_size]) for i in range(0, len(self.ids), batch_size)]
            self.glob = torch.cat([g for g, _ in parts])
            self.seq = torch.cat([s for _, s in parts])

    @torch.no_grad()
    def _encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        glob, seq = self.tower.encode(ids.to(self.tower.model.positional_embedding.device))
        return glob.float().cpu(), seq.float().cpu()

    def rows(self, captions: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self.index[c] for c in captions], dtype=torch.long)

    def tokens(self, captions: Sequence[str]) -> torch.Tensor:
        return self.ids[self.rows(captions)]

    def vanilla(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.rows(captions)
        if self.glob is not None:
            return self.glob[rows], self.seq[rows]
        return self._encode(self.ids[rows])
