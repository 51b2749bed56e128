"""Flags shared by FTI4CIR's entry points, and the frozen CLIP + preprocessing they build from them."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from common.clip import get_transform, load_clip


def add_backbone_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip_model_name", "--backbone", "--clip-model-name", dest="clip_model_name",
                        default="ViT-L/14", help="CLIP name (ViT-L/14 as the paper; synthetic-tiny for the embedded default)")
    parser.add_argument("--clip_pretrained", default=None, help="local CLIP weights file/folder")
    parser.add_argument("--clip_backend", default="auto", choices=["auto", "openai", "open_clip", "hf"])
    parser.add_argument("--preprocess_type", default="targetpad", choices=["targetpad", "clip"])
    parser.add_argument("--data-root", default="datasets")
    parser.add_argument("--feature_cache", default=None,
                        help="CLIP feature cache (default $CIR_CACHE/features, ~/.cache/cir/features)")
    parser.add_argument("--device", default=None, help="default: cuda if available (per torchrun rank), else cpu")
    parser.add_argument("--seed", type=int, default=42)


def feature_cache(args: argparse.Namespace) -> Path:
    if args.feature_cache:
        return Path(args.feature_cache)
    return Path(os.environ.get("CIR_CACHE", Path.home() / ".cache" / "cir")).expanduser() / "features"


def frozen_backbone(args: argparse.Namespace, device):
    """(frozen CLIP in eval mode, PIL->tensor transform, transform id for feature caches)."""
    backbone = load_clip(args.clip_model_name, backend=args.clip_backend, pretrained=args.clip_pretrained,
                         device=device).eval().requires_grad_(False)
    transform = get_transform(args.preprocess_type, backbone.image_size)
    return backbone, transform, f"{args.preprocess_type}@{backbone.image_size}/1.25"
