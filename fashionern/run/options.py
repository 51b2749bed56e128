"""Command-line flags of the FashionERN entry points (the original's names plus data/output/device/TME flags)."""
from __future__ import annotations

import argparse
import os

import torch

from common.clip import load_clip

DEFAULT_LR = {"fashioniq": 4e-5, "shoes": 4e-5, "cirr": 4e-5, "fashion200k": 3e-5}
DEFAULT_BATCH = {"fashioniq": 1024, "shoes": 512, "cirr": 1024, "fashion200k": 1024}
ORIGINAL_DATASET_NAME = {"fashioniq": "fashionIQ", "shoes": "shoes", "cirr": "CIRR", "fashion200k": "fashion200k"}


def _common(parser: argparse.ArgumentParser, dataset: str) -> None:
    parser.add_argument("--dataset", default=ORIGINAL_DATASET_NAME[dataset], help="kept for compatibility")
    parser.add_argument("--data-root", default="datasets", help="folder holding fashion-iq/ shoes/ cirr_dataset/ fashion200k/")
    parser.add_argument("--output-dir", default=None, help="run folder (metrics.json, checkpoints)")
    parser.add_argument("--clip-model-name", "--backbone", dest="clip_model_name", default="RN50x4")
    parser.add_argument("--input-dim", type=int, default=None, help="image size; default: the CLIP's own")
    parser.add_argument("--feature-dim", type=int, default=None, help="D; default: the CLIP's embed dim")
    parser.add_argument("--patch-num", type=int, default=13)
    parser.add_argument("--num-workers", type=int, default=0, help="parsed, unused: features are extracted once and cached")
    parser.add_argument("--target-ratio", type=float, default=1.25)
    parser.add_argument("--transform", default="targetpad")
    parser.add_argument("--cache-dir", default=None, help="feature cache (default: $CIR_CACHE/features or ~/.cache/cir/features)")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--allow-partial", action="store_true",
                        help="run on the images present (loud warning; coverage in metrics.json) instead of refusing")
    parser.add_argument("--local_rank", type=int, default=int(os.environ.get("LOCAL_RANK", -1)))


def train_parser(dataset: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=f"Train FashionERN on {dataset}")
    _common(parser, dataset)
    parser.add_argument("--clip-model-path", default=None, help="fine-tuned CLIP ({'CLIP': state_dict}) or weights")
    parser.add_argument("--projection-dim", type=int, default=2560, help="unused by the original (combiner dims derive from D)")
    parser.add_argument("--hidden-dim", type=int, default=5120, help="unused by the original (combiner dims derive from D)")
    parser.add_argument("--num-epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR[dataset])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH[dataset], help="global batch (split over ranks)")
    parser.add_argument("--clip-bs", type=int, default=4, help="unused: features are extracted once")
    parser.add_argument("--validation-bs", type=int, default=1024)
    parser.add_argument("--validation-frequency", type=int, default=3)
    parser.add_argument("--print-frequency", type=int, default=100)
    parser.add_argument("--save-training", action="store_true", help="accepted; the best checkpoint is always saved")
    parser.add_argument("--save-best", action="store_true", help="accepted; the best checkpoint is always saved")
    parser.add_argument("--cosine-epochs", type=int, default=100, help="CosineAnnealingLR T_max in epochs (original: 100)")
    parser.add_argument("--checkpointing-steps", type=int, default=None,
                        help="save the resume state (resume_latest.pt in the run folder) every N optimizer steps")
    parser.add_argument("--resume-from-checkpoint", default=None,
                        help="'latest' or a resume file: continue an interrupted run exactly")
    tme = parser.add_mutually_exclusive_group()
    tme.add_argument("--tme", dest="tme", action="store_true", default=True, help="reconstructed TME (default)")
    tme.add_argument("--no-tme", dest="tme", action="store_false", help="vanilla frozen CLIP text (the public code)")
    parser.add_argument("--tme-align-weight", type=float, default=1.0, help="weight of the TME target-alignment loss")
    parser.add_argument("--tme-mlp-ratio", type=int, default=4)
    return parser


def test_parser(dataset: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=f"Evaluate FashionERN on {dataset}")
    _common(parser, dataset)
    parser.add_argument("--clip-path", "--clip-model-path", dest="clip_path", default=None)
    parser.add_argument("--fusion-model-path", required=True, help="ERN weights ({dataset}-best.pth, ours or the authors')")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tme-mlp-ratio", type=int, default=4)
    return parser


def load_frozen_backbone(args: argparse.Namespace, pretrained: str | None, device: torch.device):
    """The frozen CLIP; checks --feature-dim / --input-dim / --patch-num against it."""
    backbone = load_clip(args.clip_model_name, pretrained=pretrained, device=device).float().eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    if args.feature_dim is not None and args.feature_dim != backbone.embed_dim:
        raise SystemExit(f"--feature-dim {args.feature_dim} does not match {args.clip_model_name} (embed dim {backbone.embed_dim})")
    if args.input_dim is not None and args.input_dim != backbone.image_size:
        raise SystemExit(f"--input-dim {args.input_dim} does not match {args.clip_model_name} (image size {backbone.image_size})")
    if args.patch_num != 13:
        raise SystemExit(f"--patch-num {args.patch_num}: FashionERN's VisualSR needs exactly 13 patches")
    if args.transform != "targetpad" or args.target_ratio != 1.25:
        raise SystemExit("only --transform targetpad --target-ratio 1.25 is supported (as in the original)")
    return backbone


def cache_dir(args: argparse.Namespace) -> str:
    if args.cache_dir:
        return args.cache_dir
    return os.path.join(os.environ.get("CIR_CACHE", os.path.expanduser("~/.cache/cir")), "features")
