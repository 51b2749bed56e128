"""FashionERN entry points end to end on a micro dataset: train, test (both FIQ protocols), CIRR files, torchrun."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fashionern.run import test_cirr, test_fiq, train_cirr, train_fiq

REPO = Path(__file__).resolve().parents[2]


def common_flags(root, clip_dir, cache):
    return ["--data-root", str(root), "--clip-model-name", "synthetic-tiny", "--cache-dir", str(cache), "--device", "cpu"]


def train_flags(root, clip_dir, cache, out, *extra):
    return [*common_flags(root, clip_dir, cache), "--clip-model-path", str(clip_dir), "--output-dir", str(out),
            "--num-epochs", "1", "--batch-size", "6", "--validation-frequency", "1", *extra]


@pytest.mark.parametrize("tme", ["--tme", "--no-tme"])
def test_train_then_test_fashioniq(micro_root, micro_clip_dir, tmp_path, tme):
    best = train_fiq.main(train_flags(micro_root, micro_clip_dir, tmp_path / "cache", tmp_path / "train", tme))
    record = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert record["protocol"] == "fiq.original" and record["variant"] == tme.strip("-")
    assert record["metrics"]["avg"] == pytest.approx(best["avg"])
    results = test_fiq.main([*common_flags(micro_root, micro_clip_dir, tmp_path / "cache"),
                             "--clip-path", str(micro_clip_dir), "--output-dir", str(tmp_path / "test"),
                             "--fusion-model-path", str(tmp_path / "train" / "fashioniq-best.pth")])
    assert set(results) == {"fiq.original", "fiq.val_union"}
    # the best checkpoint reproduces the validation numbers it was selected with
    assert results["fiq.original"]["avg"] == pytest.approx(best["avg"], abs=1e-6)
    assert "average_R@15" in results["fiq.val_union"]
    for protocol in results:
        saved = json.loads((tmp_path / "test" / protocol / "metrics.json").read_text())
        assert saved["protocol"] == protocol and saved["variant"] == tme.strip("-")
        assert (tmp_path / "test" / protocol / "predictions.json").is_file()


def test_cirr_val_and_test1_submission(micro_root, micro_clip_dir, tmp_path):
    train_cirr.main(train_flags(micro_root, micro_clip_dir, tmp_path / "cache", tmp_path / "train", "--no-tme"))
    flags = [*common_flags(micro_root, micro_clip_dir, tmp_path / "cache"), "--clip-path", str(micro_clip_dir),
             "--fusion-model-path", str(tmp_path / "train" / "cirr-best.pth")]
    val = test_cirr.main([*flags, "--output-dir", str(tmp_path / "val")])
    assert set(val["cirr.rc2"]) >= {"R@1", "R@5", "Rsubset@1", "avg"}
    test_cirr.main([*flags, "--output-dir", str(tmp_path / "test1"), "--split", "test1"])
    files = sorted(p.name for p in (tmp_path / "test1" / "submission" / "CIRR").iterdir())
    assert files == ["recall_submission_fashionern.json", "recall_subset_submission_fashionern.json"]
    subset = json.loads((tmp_path / "test1" / "submission" / "CIRR" / files[1]).read_text())
    assert subset["metric"] == "recall_subset" and len(subset) == 2 + 54
    assert len(subset["7"]) == 3 and set(subset["7"]) < {f"test1-{i}-img0" for i in range(6, 12)} - {"test1-7-img0"}
    recall = json.loads((tmp_path / "test1" / "submission" / "CIRR" / files[0]).read_text())
    assert len(recall["7"]) == 50 and "test1-7-img0" not in recall["7"]


@pytest.mark.slow
def test_two_process_torchrun(micro_root, micro_clip_dir, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nproc_per_node=2", "--master_port=29517", "fashionern/run/train_fiq.py",
               *train_flags(micro_root, micro_clip_dir, tmp_path / "cache", tmp_path / "ddp", "--tme")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "x 2 ranks" in done.stdout
    assert json.loads((tmp_path / "ddp" / "metrics.json").read_text())["metrics"]["avg"] >= 0
    assert (tmp_path / "ddp" / "fashioniq-best.pth").is_file()


def test_an_authors_checkpoint_is_tested_with_the_clip_it_carries(micro_root, tmp_path):
    # the authors' {dataset}-best.pth carries its fine-tuned CLIP (image_clip.clip_model.*, text_clip.clip_model.*);
    # the original tests with it, so without --clip-path the test must too. Here the CLIP is a tiny ResNet in OpenAI
    # layout; an OpenAI-style name (with "/") is read by the OpenAI loader, which takes the architecture from the
    # weights (a real run: RN50x4 through open_clip)
    from common.clip import tiny_open_clip_config, tiny_open_clip_state
    from fashionern.models import ERN

    clip = tiny_open_clip_state(tiny_open_clip_config("resnet"), seed=5)
    state = {k: v for k, v in ERN(32).state_dict().items() if not k.endswith("cls_token")}
    state.update({f"{tower}.clip_model.{k}": v for tower in ("image_clip", "text_clip") for k, v in clip.items()})
    checkpoint = tmp_path / "fashioniq-best.pth"
    torch.save(state, checkpoint)
    flags = ["--data-root", str(micro_root), "--clip-model-name", "ViT-B/16", "--cache-dir", str(tmp_path / "cache"),
             "--device", "cpu", "--fusion-model-path", str(checkpoint), "--output-dir", str(tmp_path / "test")]
    results = test_fiq.main(flags)
    assert set(results) == {"fiq.original", "fiq.val_union"}
    carried = torch.load(tmp_path / "test" / "clip_from_checkpoint.pt", weights_only=True)["CLIP"]
    assert carried.keys() == clip.keys() and all(torch.equal(carried[k], v) for k, v in clip.items())
