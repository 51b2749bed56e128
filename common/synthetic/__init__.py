"""Synthetic benchmark in every real on-disk format, and the tiny CLIP trained on it (the embedded default).

    generate(out, seed=0, size="small") / ensure_synthetic(root, seed=0, size="small") -> Path
    tiny_clip_dir(seed=0) / ensure_tiny_clip(seed=0) -> Path     (torch is imported only when these are used)
"""
from __future__ import annotations

from common.synthetic.generate import SIZES, WRITERS, ensure_synthetic, generate

__all__ = ["SIZES", "WRITERS", "ensure_synthetic", "generate", "tiny_clip_dir", "ensure_tiny_clip"]


def __getattr__(name: str):
    if name in ("tiny_clip_dir", "ensure_tiny_clip"):
        from common.synthetic import tiny_clip
        return getattr(tiny_clip, name)
    raise AttributeError(f"module 'common.synthetic' has no attribute {name!r}")
