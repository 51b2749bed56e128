"""FashionMT sessions for MAI: the original's dataset names, cleaned texts per turn, cached frozen image tokens."""
from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from common.data import check_coverage
from common.data.fashionmt import FashionMT, FashionMTSession
from common.retrieval import encode_gallery
from mai.dataloader.text import ORDINALS, first_and_last_clauses, pre_caption, select_caps_compose
from mai.models.image_encoder import FrozenImageEncoder

# The original's `--dataset` values: FashionMT subset, training regime and number of history images.
DATASETS = {
    "fc": ("fc", "combination", 2),
    "fiq": ("fiq", "combination", 3),
    "200k": ("200k", "rollback", 2),
    "shoes": ("shoes", "rollback", 2),
    "fc-st": ("fc", "single-turn", 2),
    "200k-st": ("200k", "single-turn", 2),
}
IMAGE_KEYS = ("ref", "tar1", "tar2", "tar3")


def open_fashionmt(data_root: str | Path, dataset: str, split: str) -> tuple[FashionMT, str, int]:
    """(reader, regime, history) for an original `--dataset` name under `<data_root>/FashionMT`.

    A split with missing images is refused in one line naming the first one (MAI has no partial-data mode).
    """
    if dataset not in DATASETS:
        raise ValueError(f"--dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
    subset, regime, history = DATASETS[dataset]
    reader = FashionMT(Path(data_root) / "FashionMT", split, subset=subset)
    check_coverage(reader, allow_partial=False)
    return reader, regime, history


class SessionDataset(Dataset):
    """One item per session: image names and cleaned texts; modifiers as the original's training (two sampled
    clauses) or evaluation (first and last clause)."""

    def __init__(self, sessions: Sequence[FashionMTSession], train: bool, seed: int = 0):
        self.sessions = list(sessions)
        self.train = train
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Clause sampling is a function of (seed, epoch, index): a resumed run sees the same texts."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sessions)

    def _modifier(self, text: str, rng: random.Random) -> str:
        return pre_caption(select_caps_compose(text, rng) if self.train else first_and_last_clauses(text))

    def __getitem__(self, i: int) -> dict[str, str]:
        s = self.sessions[i]
        rng = random.Random(hash((self.seed, self.epoch, i)))
        item = {key: name for key, name in zip(IMAGE_KEYS, s.images)}
        item.update({f"cap{k}": pre_caption(c) for k, c in enumerate(s.captions)})
        item.update({f"mod{k + 1}": self._modifier(m, rng) for k, m in enumerate(s.modifiers)})
        back = s.rollback_index
        item["back"] = s.images[back]
        item["back_cap"] = item[f"cap{back}"]
        return item


def collate_sessions(items: list[dict[str, str]]) -> dict[str, list[str]]:
    return {key: [it[key] for it in items] for key in items[0]}


class ImageTokens:
    """Frozen-encoder tokens of a fixed image list, computed once (cached on disk) and looked up by name."""

    def __init__(self, encoder: FrozenImageEncoder, names: Sequence[str], image_path_fn,
                 cache_dir: str | Path | None, batch_size: int = 64, progress=None,
                 transform=None, transform_name: str = ""):
        """`transform` replaces the encoder's preprocessing; `transform_name` must then describe it (cache key)."""
        self.names = list(dict.fromkeys(names))
        self.row = {n: i for i, n in enumerate(self.names)}
        suffix = f":{transform_name}" if transform is not None else ""
        self.tokens = encode_gallery(encoder, self.names, image_path_fn, cache_dir,
                                     transform_id=f"mai-tokens:{encoder.identity}{suffix}", batch_size=batch_size,
                                     progress=progress, transform=transform)

    def __call__(self, names: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
        return self.tokens[[self.row[n] for n in names]].to(device)


def vocabulary_texts(sessions: Sequence[FashionMTSession]) -> list[str]:
    """Every cleaned caption/modifier of `sessions` plus the history markers (for a word-level vocab)."""
    texts = [pre_caption(t) for s in sessions for t in (*s.captions, *s.modifiers)]
    return texts + [o.lower() for o in ORDINALS]
