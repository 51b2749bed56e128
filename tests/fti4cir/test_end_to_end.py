"""FTI4CIR entry points on the synthetic benchmark with the tiny CLIP: train, evaluate, test-server files, torchrun."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import torch

from common.checkpoint import load_checkpoint
from common.submission import validate_submission

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["--clip_model_name", "synthetic-tiny", "--batch_size", "32", "--num_epochs", "1", "--num_k", "8",
         "--topk", "4", "--tf_layer", "1", "--lr", "1e-3", "--seed", "0", "--augment_views", "1"]


def _common(synthetic_root, tiny_clip_dir, cache) -> list[str]:
    return ["--clip_model_name", "synthetic-tiny", "--clip_pretrained", str(tiny_clip_dir),
            "--data-root", str(synthetic_root), "--feature_cache", str(cache)]


@pytest.fixture(scope="module")
def trained(synthetic_root, tiny_clip_dir, tmp_path_factory):
    from fti4cir.run import train

    out = tmp_path_factory.mktemp("fti4cir_train")
    cache = out / "cache"
    metrics = train.main([*TRAIN, *_common(synthetic_root, tiny_clip_dir, cache)[2:], "--output-dir", str(out)])
    return out, cache, metrics


def test_train_writes_checkpoints_and_metrics(trained):
    out, _, metrics = trained
    record = json.loads((out / "metrics.json").read_text())
    assert record["method"] == "fti4cir" and record["metrics"]["steps"] >= 1
    assert metrics["final_loss"] > 0
    assert (out / "save_model" / "model_last.pt").is_file() and (out / "hyperparameters.json").is_file()


@pytest.mark.parametrize("dataset,keys", [("cirr", {"R@1", "R@5", "Rsubset@1", "avg"}),
                                          ("circo", {"mAP@5", "mAP@50"}),
                                          ("fashioniq", {"dress_R@10", "average_R@50", "avg"})])
def test_evaluate_writes_metrics_and_predictions(trained, synthetic_root, tiny_clip_dir, dataset, keys):
    from fti4cir.run import evaluate

    out, cache, _ = trained
    eval_dir = out / f"eval_{dataset}"
    metrics = evaluate.main(["--dataset", dataset, "--model_path", str(out / "save_model" / "model_last.pt"),
                             *_common(synthetic_root, tiny_clip_dir, cache), "--output-dir", str(eval_dir)])
    assert keys <= set(metrics) and all(0 <= metrics[k] <= 100 for k in keys)
    record = json.loads((eval_dir / "metrics.json").read_text())
    assert record["protocol"] == {"cirr": "cirr.rc2", "circo": "circo.relcap", "fashioniq": "fiq.original"}[dataset]
    assert (eval_dir / "predictions.json").is_file()


def test_cirr_train_split_is_a_development_set(trained, synthetic_root, tiny_clip_dir):
    from fti4cir.run import evaluate

    out, cache, _ = trained
    args = ["--model_path", str(out / "save_model" / "model_last.pt"), *_common(synthetic_root, tiny_clip_dir, cache)]
    metrics = evaluate.main(["--dataset", "cirr", "--split", "train", *args, "--output-dir", str(out / "dev")])
    record = json.loads((out / "dev" / "metrics.json").read_text())
    assert record["split"] == "train" and record["coverage"]["queries"] == record["coverage"]["queries_total"] > 0
    assert {"R@1", "Rsubset@1", "avg"} <= set(metrics)
    with pytest.raises(SystemExit):
        evaluate.main(["--dataset", "circo", "--split", "train", *args, "--output-dir", str(out / "refused")])


@pytest.mark.parametrize("dataset", ["cirr", "circo"])
def test_server_files_pass_the_validator(trained, synthetic_root, tiny_clip_dir, dataset):
    from fti4cir.run import test as test_entry

    out, cache, _ = trained
    written = test_entry.main(["--dataset", dataset, "--model_path", str(out / "save_model" / "model_last.pt"),
                               *_common(synthetic_root, tiny_clip_dir, cache), "--output-dir", str(out / dataset)])
    kinds = ["cirr", "cirr_subset"] if dataset == "cirr" else ["circo"]
    assert len(written) == len(kinds)
    for path, kind in zip(written, kinds):
        assert validate_submission(path, kind) > 0
        result = subprocess.run([sys.executable, "-m", "common.submission", str(path), "--kind", kind],
                                capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stderr


def test_fashioniq_through_test_py_writes_val_metrics_to_save_path(trained, synthetic_root, tiny_clip_dir):
    from fti4cir.run import test as test_entry

    out, cache, _ = trained
    save_path = out / "fiq_submissions"
    assert test_entry.main(["--dataset", "fashioniq", "--model_path", str(out / "save_model" / "model_last.pt"),
                            *_common(synthetic_root, tiny_clip_dir, cache), "--submission_name", "run1",
                            "--save_path", str(save_path)]) == []
    record = json.loads((save_path / "metrics.json").read_text())
    assert record["protocol"] == "fiq.original" and record["split"] == "val" and "avg" in record["metrics"]
    with pytest.raises(SystemExit):  # an unknown flag is refused, as for the other datasets
        test_entry.main(["--dataset", "fashioniq", "--no_such_flag"])


@pytest.mark.slow
def test_two_process_torchrun_training(synthetic_root, tiny_clip_dir, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "fti4cir/run/train.py", *TRAIN, *_common(synthetic_root, tiny_clip_dir, tmp_path / "cache")[2:],
           "--output-dir", str(tmp_path / "out"), "--checkpointing_steps", "4"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert record["metrics"]["steps"] == 9 and (tmp_path / "out" / "save_model" / "model_last.pt").is_file()
    # 300 pairs, 16 per process: 9 steps; the resume state of step 8 holds both processes' RNG states (dropout)
    resume = load_checkpoint(tmp_path / "out" / "save_model" / "resume_latest.pt")
    assert resume["step"] == 8 and len(resume["rng"]) == 2
    assert not torch.equal(resume["rng"][0]["torch"], resume["rng"][1]["torch"])

