"""The fine-tuned CLIP that the authors' FashionERN/SPIRIT checkpoints carry, handed to common.clip as a file."""
from __future__ import annotations

from pathlib import Path

import torch

from common.checkpoint import save_atomic
from common.dist import barrier, is_main

CARRIED_CLIP_FILE = "clip_from_checkpoint.pt"


def carried_clip_file(clip_state: dict[str, torch.Tensor], out_dir: str | Path) -> str:
    """Write `clip_state` (OpenAI layout) as a CLIP4Cir `{"CLIP": ...}` file in `out_dir` (the main process; the
    others wait) and return its path, for `load_clip(..., pretrained=path)`: the original tests with this CLIP."""
    path = Path(out_dir) / CARRIED_CLIP_FILE
    if is_main():
        save_atomic({"CLIP": clip_state}, path)
    barrier()
    return str(path)
