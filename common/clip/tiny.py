"""Tiny random CLIPs (32-64 px, width 64, 2 layers) in every backend, with identical weights across backends."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import torch

from common.atomic import atomic_write
from common.checkpoint import save_atomic
from common.clip.backbone import ClipBackbone
from common.clip.load import (TINY_CONFIG_FILE, TINY_WEIGHTS_FILE, backbone_from_open_clip_state,
                              open_clip_model_from_config)

_TINY_TEXT = {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}
TINY_VIT_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": _TINY_TEXT,
}
TINY_RESNET_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 16, "patch_size": None},
    "text_cfg": _TINY_TEXT,
}
TINY_CONFIGS = {"vit": TINY_VIT_CONFIG, "resnet": TINY_RESNET_CONFIG}


def tiny_open_clip_config(arch: str = "vit", quick_gelu: bool = False) -> dict:
    """A copy of the open_clip model config of the tiny "vit" (32 px) or "resnet" (64 px ModifiedResNet) CLIP."""
    if arch not in TINY_CONFIGS:
        raise ValueError(f"arch must be one of {tuple(TINY_CONFIGS)}, got {arch!r}")
    return {**copy.deepcopy(TINY_CONFIGS[arch]), "quick_gelu": quick_gelu}


def tiny_open_clip_state(config: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random open_clip weights for `config`, reproducible by seed, without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip_model_from_config(config, "tiny config")
    return model.state_dict()


def build_tiny_clip(backend: str = "open_clip", arch: str = "vit", seed: int = 0,
                    quick_gelu: bool = False) -> ClipBackbone:
    """A tiny random CLIP in `backend`; the same (arch, seed) gives the same weights in every backend."""
    config = tiny_open_clip_config(arch, quick_gelu)
    return backbone_from_open_clip_state(f"tiny-{arch}", config, tiny_open_clip_state(config, seed), backend,
                                         source=f"tiny-{arch} config")


def save_tiny_clip_folder(folder: str | os.PathLike, arch: str = "vit", seed: int = 0,
                          quick_gelu: bool = False) -> Path:
    """Write a random tiny CLIP in the synthetic-tiny folder format (synthetic-tiny.json + open_clip_model.pt),
    loadable by `load_clip("synthetic-tiny", pretrained=folder)` in any backend (ViT) — a stand-in for tests."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = tiny_open_clip_config(arch, quick_gelu)
    save_atomic(tiny_open_clip_state(config, seed), folder / TINY_WEIGHTS_FILE)
    atomic_write(folder / TINY_CONFIG_FILE, lambda handle: handle.write(json.dumps(config, indent=2).encode()))
    return folder
