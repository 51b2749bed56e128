"""Benchmarks 1 and 2: full CIRR-val evaluation ÷ the pure encoder forward, and a cached re-evaluation ÷ the first.

The evaluation is the real one (`common.baselines.eval_cirr`: reading, coverage check, image decoding and
preprocessing, `common.retrieval.encode_gallery`, text encoding, ranking, `common.metrics`). The pure forward
runs `encode_image` / `encode_text` over the same unique images and texts, already preprocessed and tokenized.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from PIL import Image

from bench.measure import Figure, median_time, paired_medians
from common.baselines import FeatureExtractor, eval_cirr
from common.clip import load_clip
from common.data import CIRR

OVERHEAD_GOAL = 1.15
CACHE_GOAL = 0.10
BATCH = 64
METHODS = ("feature_sum",)


def _evaluate(backbone: torch.nn.Module, root: Path, cache_dir: Path | None, num_workers: int) -> None:
    fx = FeatureExtractor(backbone, cache_dir, BATCH, num_workers)
    eval_cirr(fx, root, METHODS, allow_partial=False)


def _pure_forward(backbone: torch.nn.Module, root: Path) -> callable:
    """A closure running only the encoder over the evaluation's unique images and texts, inputs prepared."""
    reader = CIRR(root, "val")
    names = list(dict.fromkeys(reader.gallery() + [t.reference for t in reader.queries]))
    images = []
    for name in names:
        with Image.open(reader.image_path(name)) as image:
            images.append(backbone.preprocess(image.convert("RGB")))
    pixels = torch.stack(images)
    tokens = backbone.tokenize(list(dict.fromkeys(t.caption for t in reader.queries)))

    @torch.no_grad()
    def forward() -> None:
        for start in range(0, len(pixels), BATCH):
            backbone.encode_image(pixels[start:start + BATCH])
        for start in range(0, len(tokens), 256):
            backbone.encode_text(tokens[start:start + 256])
    return forward


def figures(data_root: Path, repeats: int = 5, backbone_name: str = "synthetic-tiny",
            num_workers: int = 0, backbone: torch.nn.Module | None = None) -> list[Figure]:
    """Evaluation-overhead and feature-cache rows on `<data_root>/cirr_dataset` (val).

    `backbone` (labelled `backbone_name`) replaces `load_clip(backbone_name)`, e.g. a full-size random-weight CLIP.
    """
    root = Path(data_root) / "cirr_dataset"
    backbone = (backbone if backbone is not None else load_clip(backbone_name)).eval()
    forward = _pure_forward(backbone, root)
    forward_s, full_s = paired_medians(forward, lambda: _evaluate(backbone, root, None, num_workers), repeats)
    first, second = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
            first.append(median_time(lambda: _evaluate(backbone, root, Path(cache), num_workers), 1, warmup=0))
            second.append(median_time(lambda: _evaluate(backbone, root, Path(cache), num_workers), 1, warmup=0))
    first_s, second_s = sorted(first)[len(first) // 2], sorted(second)[len(second) // 2]
    reader = CIRR(root, "val")
    size = f"CIRR val ({len(reader.queries)} queries, {len(reader.gallery())} gallery)"
    return [
        Figure(f"evaluation ÷ encoder forward ({backbone_name})", full_s / forward_s, OVERHEAD_GOAL,
               details={"evaluation_s": full_s, "forward_s": forward_s, "size": size, "num_workers": num_workers}),
        Figure(f"cached evaluation ÷ first ({backbone_name})", second_s / first_s, CACHE_GOAL,
               details={"first_s": first_s, "second_s": second_s, "size": size}),
    ]
