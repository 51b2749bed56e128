"""Benchmark 3: CIRCO-scale top-k ranking (`common.retrieval.topk_cosine`) ÷ a full-similarity argsort, and its peak memory.

Run in its own process (`python -m bench.ranking --json`) so the peak-RSS figure is this ranking's alone.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch
import torch.nn.functional as F

from bench.measure import Figure, median_time, peak_rss_bytes, reset_peak_rss, rss_bytes
from common.retrieval import topk_cosine

CIRCO_GALLERY = 123_403
CIRCO_QUERIES = 800
DIM = 768
TOP = 50
TIME_GOAL = 0.33
MEMORY_GOAL_GB = 1.0


def argsort_reference(queries: torch.Tensor, gallery: torch.Tensor, k: int) -> torch.Tensor:
    """What most CIR repos do: the full [Q, G] cosine matrix, argsorted, first k columns."""
    sims = F.normalize(queries, dim=-1) @ F.normalize(gallery, dim=-1).T
    return torch.argsort(sims, dim=1, descending=True)[:, :k]


def _peak_extra(fn) -> tuple[object, int]:
    reset_peak_rss()
    before = rss_bytes()
    result = fn()
    return result, peak_rss_bytes() - before


def measure(queries: int, gallery: int, dim: int, k: int, repeats: int, seed: int = 0) -> dict[str, float]:
    """Median seconds and peak extra RSS of ours and the reference, plus whether their top-k agree."""
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(queries, dim, generator=generator)
    g = torch.randn(gallery, dim, generator=generator)
    (_, ours), ours_bytes = _peak_extra(lambda: topk_cosine(q, g, k))
    reference, reference_bytes = _peak_extra(lambda: argsort_reference(q, g, k))
    ours_s = median_time(lambda: topk_cosine(q, g, k), repeats, warmup=0)
    reference_s = median_time(lambda: argsort_reference(q, g, k), repeats, warmup=0)
    return {"queries": queries, "gallery": gallery, "dim": dim, "k": k, "repeats": repeats,
            "ours_s": ours_s, "reference_s": reference_s, "time_ratio": ours_s / reference_s,
            "ours_peak_extra_gb": ours_bytes / 1e9, "reference_peak_extra_gb": reference_bytes / 1e9,
            "same_topk": bool(torch.equal(ours, reference))}


def figures(queries: int = CIRCO_QUERIES, gallery: int = CIRCO_GALLERY, dim: int = DIM, k: int = TOP,
            repeats: int = 3) -> list[Figure]:
    """Measure in a fresh subprocess and return the time-ratio and peak-memory rows."""
    command = [sys.executable, "-m", "bench.ranking", "--queries", str(queries), "--gallery", str(gallery),
               "--dim", str(dim), "--k", str(k), "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.ranking subprocess failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return rows(json.loads(done.stdout.strip().splitlines()[-1]))


def rows(result: dict[str, float]) -> list[Figure]:
    """The time-ratio and peak-memory rows of one `measure()` result."""
    queries, gallery, dim, k = result["queries"], result["gallery"], result["dim"], result["k"]
    size = f"top-{k} of {queries} queries over {gallery:,} x {dim}"
    agree = "" if result["same_topk"] else "top-k differs from the reference"
    return [
        Figure("ranking time ÷ argsort", result["time_ratio"], TIME_GOAL,
               details={"ours_s": result["ours_s"], "reference_s": result["reference_s"], "size": size}, note=agree),
        Figure("ranking peak extra memory", result["ours_peak_extra_gb"], MEMORY_GOAL_GB, unit=" GB",
               details={"reference_peak_extra_gb": result["reference_peak_extra_gb"], "size": size}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=CIRCO_QUERIES)
    parser.add_argument("--gallery", type=int, default=CIRCO_GALLERY)
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--k", type=int, default=TOP)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.queries, args.gallery, args.dim, args.k, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
