"""Tiny random CLIPs (32-64 px, width 64, 2 layers) in every backend, with identical weights across backends."""
from __future__ import annotations

import copy

import torch

from common.clip.backbone import ClipBackbone

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
    from common.clip.load import _open_clip_model_from_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _open_clip_model_from_config(config, "tiny config")
    return model.state_dict()


def build_tiny_clip(backend: str = "open_clip", arch: str = "vit", seed: int = 0,
                    quick_gelu: bool = False) -> ClipBackbone:
    """A tiny random CLIP in `backend`; the same (arch, seed) gives the same weights in every backend."""
    from common.clip.load import backbone_from_open_clip_state

    config = tiny_open_clip_config(arch, quick_gelu)
    return backbone_from_open_clip_state(f"tiny-{arch}", config, tiny_open_clip_state(config, seed), backend,
                                         source=f"tiny-{arch} config")
