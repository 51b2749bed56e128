"""SPIRIT's train/test entry points end to end on a miniature benchmark (real formats, random micro CLIP)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spirit.models.checkpoint import load_spirit
from spirit.run.pipeline import test_main as run_test_script
from spirit.run.pipeline import train_main as run_train_script

REPO = Path(__file__).resolve().parents[2]


def common_flags(mini_root, micro_clip_dir, cache):
    return ["--data-root", str(mini_root), "--clip-model-name", "synthetic-tiny", "--clip-model-path", str(micro_clip_dir),
            "--cache-dir", str(cache), "--device", "cpu"]


def cache_state(cache: Path) -> dict[str, int]:
    """Every cached feature file with its modification time: any extraction writes a new or rewritten file."""
    return {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}


def test_fiq_train_then_test_reproduces_the_best_validation(mini_root, micro_clip_dir, tmp_path):
    flags = common_flags(mini_root, micro_clip_dir, tmp_path / "cache")
    best = run_train_script("fashioniq", flags + ["--output-dir", str(tmp_path / "train"), "--num-epochs", "2",
                                           "--batch-size", "12", "--combiner-lr", "1e-4", "--save-training", "--save-best"])
    record = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert (record["method"], record["dataset"], record["split"], record["protocol"]) == ("spirit", "fashioniq", "val", "fiq.original")
    assert record["metrics"]["avg"] == pytest.approx(best["avg"])
    assert {"dress_R@10", "shirt_R@50", "toptee_R@1", "average_R@10", "average_R@50"} <= set(record["metrics"])
    ckpt = tmp_path / "train" / "fashioniq-best.pt"
    model, saved = load_spirit(ckpt)
    assert saved["config"]["feature_dim"] == 32 and saved["epoch"] == record["metrics"]["epoch"]
    extracted = cache_state(tmp_path / "cache")
    assert len(extracted) == 4  # global + patch features of the train images and of the val galleries
    tested = run_test_script("fashioniq", flags + ["--output-dir", str(tmp_path / "test"), "--model-path", str(ckpt)])
    assert cache_state(tmp_path / "cache") == extracted  # the test run read the training run's features
    assert tested == pytest.approx({k: v for k, v in best.items()})
    assert json.loads((tmp_path / "test" / "predictions.json").read_text())["protocol"] == "fiq.original"


def test_cirr_train_and_test_report_cirr_metrics(mini_root, micro_clip_dir, tmp_path):
    flags = common_flags(mini_root, micro_clip_dir, tmp_path / "cache")
    run_train_script("cirr", flags + ["--output-dir", str(tmp_path / "train"), "--num-epochs", "1", "--batch-size", "8",
                                "--save-training", "--save-best"])
    metrics = run_test_script("cirr", flags + ["--output-dir", str(tmp_path / "test"),
                                         "--model-path", str(tmp_path / "train" / "cirr-best.pt")])
    assert set(metrics) == {"R@1", "R@5", "R@10", "R@50", "Rsubset@1", "Rsubset@2", "Rsubset@3", "avg"}
    assert metrics["R@50"] == 100.0  # the 8-image gallery minus the reference always holds the target


def test_bad_flags_fail_with_a_clear_message(mini_root, micro_clip_dir, tmp_path):
    flags = common_flags(mini_root, micro_clip_dir, tmp_path / "cache")
    with pytest.raises(ValueError, match="--feature-dim 640 does not match synthetic-tiny"):
        run_train_script("fashioniq", flags + ["--output-dir", str(tmp_path), "--feature-dim", "640"])
    with pytest.raises(ValueError, match="only 36 training triplets"):
        run_train_script("fashioniq", flags + ["--output-dir", str(tmp_path), "--num-epochs", "1", "--batch-size", "64"])


@pytest.mark.slow
def test_two_process_torchrun(mini_root, micro_clip_dir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           str(REPO / "spirit" / "run" / "train_fiq.py"), *common_flags(mini_root, micro_clip_dir, tmp_path / "cache"),
           "--output-dir", str(out), "--num-epochs", "2", "--batch-size", "12", "--save-training", "--save-best"]
    env = dict(os.environ, OMP_NUM_THREADS="1", CIR_DIST_TIMEOUT="300")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "metrics.json").read_text())
    assert record["config"]["world_size"] == 2 and record["config"]["batch_size"] == 12
    model, _ = load_spirit(out / "fashioniq-best.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())
