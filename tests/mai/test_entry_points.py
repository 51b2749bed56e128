"""train_ddp.py then test.py on a tiny FashionMT folder: checkpoints, metrics.json, predictions."""
import json

import pytest

from common.data.fashionmt import FashionMT
from mai.dataloader.fashionmt import SessionDataset
from mai.dataloader.text import first_and_last_clauses, pre_caption
from mai.run import stage1_pretrain
from mai.run import test as mai_test
from mai.run import train_ddp
from tests.mai.test_stage1 import SMALL


def test_session_items(tiny_fashionmt):
    root, _ = tiny_fashionmt
    reader = FashionMT(root / "FashionMT", "test", subset="200k")
    item = SessionDataset(reader.queries, train=False)[0]
    s = reader.queries[0]
    assert item["back"] == s.images[s.rollback_index]
    # evaluation: the first and last clause, the rollback prefix dropped, as the original's validate.py
    assert item["mod3"] == pre_caption(first_and_last_clauses(s.mod3)) and "prefer" not in item["mod3"]
    assert item["back_cap"] == pre_caption(s.captions[s.rollback_index])
    sampled = SessionDataset(reader.queries, train=True)[0]["mod3"]
    assert sampled.count(" and ") == 1 and "prefer" not in sampled  # two clauses; prefix dropped as the original


@pytest.mark.parametrize("dataset,init", [("fc", "random"), ("200k", "stage1")])
def test_train_then_test(tiny_fashionmt, tmp_path, monkeypatch, dataset, init):
    root, clip = tiny_fashionmt
    monkeypatch.setenv("CIR_CACHE", str(tmp_path / "cir"))
    monkeypatch.setattr(stage1_pretrain, "DEFAULT", SMALL)  # the embedded default's stage 1, shrunk
    common = ["--data-root", str(root), "--backbone", "synthetic-tiny", "--clip-pretrained", str(clip),
              "--cache-dir", str(tmp_path / "cache")]
    train_out = tmp_path / "train"
    metrics = train_ddp.main(["--dataset", dataset, "--num-epochs", "2", "--batch-size", "8", "--qformer-init", init,
                              "--learning-rate", "1e-3", "--output-dir", str(train_out), *common])
    assert (tmp_path / "cir" / "mai_stage1").is_dir() == (init == "stage1")
    assert set(metrics) == {"R@1", "R@5", "R@10", "R@20", "mean"}
    assert (train_out / "last.pth").is_file() and (train_out / "epoch0.pth").is_file()
    test_out = tmp_path / "test"
    again = mai_test.main(["--dataset", dataset, "--model-dir", str(train_out), "--output-dir", str(test_out),
                           "--data-root", str(root), "--cache-dir", str(tmp_path / "cache")])
    assert again == pytest.approx(metrics)
    record = json.loads((test_out / "metrics.json").read_text())
    assert record["protocol"] == "fashionmt.final_turn" and record["variant"] == dataset
    assert (test_out / "predictions.json").is_file()


@pytest.mark.slow
def test_two_process_torchrun(tiny_fashionmt, tmp_path):
    import os
    import subprocess
    import sys

    root, clip = tiny_fashionmt
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "mai/run/train_ddp.py",
           "--dataset", "fc", "--num-epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3",
           "--data-root", str(root), "--backbone", "synthetic-tiny", "--clip-pretrained", str(clip),
           "--qformer-init", "random", "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(out)]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "16 sessions, 2 steps/epoch" in proc.stdout and "world 2" in proc.stdout
    record = json.loads((out / "metrics.json").read_text())
    assert record["protocol"] == "fashionmt.final_turn" and set(record["metrics"]) >= {"R@1", "mean"}
