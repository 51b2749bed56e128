"""Benchmark 5: evaluation-encoder images/s ÷ (matmul FLOP rate measured now ÷ the encoder's forward FLOPs).

Variants tried on CPU: `no_grad`, `inference_mode`, channels-last, bf16 autocast; the best one that stays
close to fp32 features (cosine >= 0.999) is the figure, every variant is reported.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import open_clip
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from bench.measure import Figure, median_time
from common.clip.load import open_clip_model_from_config
from common.clip.open_clip_backend import OpenClipBackbone

GOAL = 0.5
EXACT_ENOUGH = 0.999


def matmul_flops_per_s(size: int = 1024, repeats: int = 5) -> float:
    """fp32 GEMM rate of this machine now (2·n³ FLOPs per n×n matmul)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size ** 3 / median_time(lambda: a @ b, repeats)


def forward_flops(encode: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> int:
    """FLOPs of one `encode(images)` as counted by torch's FlopCounterMode (matmuls and convolutions)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        encode(images)
    return counter.get_total_flops()


def _variants(backbone: torch.nn.Module, images: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    channels_last = images.contiguous(memory_format=torch.channels_last)

    def run(pixels: torch.Tensor, mode: Callable[[], contextlib.AbstractContextManager], bf16: bool = False):
        def call() -> torch.Tensor:
            with mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return backbone.encode_image(pixels).float()
        return call
    return {"no_grad": run(images, torch.no_grad), "inference_mode": run(images, torch.inference_mode),
            "inference_mode+channels_last": run(channels_last, torch.inference_mode),
            "inference_mode+bf16": run(images, torch.inference_mode, bf16=True)}


def measure(backbone: torch.nn.Module, batch: int, repeats: int) -> dict[str, object]:
    """Images/s of every variant, the encoder FLOPs per image, the matmul rate, and the best exact-enough variant."""
    backbone.eval()
    size = backbone.image_size
    images = torch.randn(batch, 3, size, size)
    flops_per_image = forward_flops(backbone.encode_image, images) / batch
    reference = None
    rates, fidelity = {}, {}
    for name, call in _variants(backbone, images).items():
        out = call()
        reference = out if reference is None else reference
        fidelity[name] = float(F.cosine_similarity(out, reference, dim=-1).min())
        rates[name] = batch / median_time(call, repeats)
    peak = matmul_flops_per_s()
    usable = {n: r for n, r in rates.items() if fidelity[n] >= EXACT_ENOUGH}
    best = max(usable, key=usable.get)
    return {"images_per_s": rates, "min_cosine_vs_fp32": fidelity, "flops_per_image": flops_per_image,
            "matmul_flops_per_s": peak, "best": best,
            "efficiency": usable[best] / (peak / flops_per_image)}


def random_open_clip(model_name: str) -> torch.nn.Module:
    """A full-size open_clip architecture with random weights: the real model's FLOPs and speed, no download."""
    return OpenClipBackbone(f"{model_name} (random weights)",
                            open_clip_model_from_config(open_clip.get_model_config(model_name), model_name))


def figures(backbones: dict[str, torch.nn.Module], batch: int = 32, repeats: int = 3) -> list[Figure]:
    """One efficiency row per named encoder."""
    rows = []
    for label, backbone in backbones.items():
        result = measure(backbone, batch, repeats)
        details = {"best_variant": result["best"], "gflops_per_image": result["flops_per_image"] / 1e9,
                   "matmul_gflops_per_s": result["matmul_flops_per_s"] / 1e9,
                   **{f"img/s {k}": v for k, v in result["images_per_s"].items()},
                   **{f"cos {k}": v for k, v in result["min_cosine_vs_fp32"].items()}}
        rows.append(Figure(f"encoder efficiency ({label})", result["efficiency"], GOAL, higher_is_better=True,
                           details=details))
    return rows
