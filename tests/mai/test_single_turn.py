"""Single-turn FashionIQ / CIRR (SPRC flags, the model's `fiq` mode) end to end on the synthetic data, and the
held-out FashionMT split used for choosing the embedded default."""
import json

import pytest

from common.data.fashionmt import FashionMT
from mai.run import blip_fine_tune_2
from mai.run.holdout_split import write_holdout
from tests.mai.conftest import shrink_single_turn


@pytest.mark.parametrize("dataset,keys", [("FashionIQ", {"dress_R@10", "average_R@50", "avg"}),
                                          ("CIRR", {"R@1", "R@50", "Rsubset@1", "avg"})])
def test_single_turn_train_and_validate(synthetic_root, tiny_fashionmt, tmp_path, dataset, keys):
    _, clip = tiny_fashionmt
    root = shrink_single_turn(synthetic_root, tmp_path / "data", per_split=4)
    out = tmp_path / "run"
    metrics = blip_fine_tune_2.main(["--dataset", dataset, "--data-root", str(root), "--num-epochs", "1",
                                     "--batch-size", "4", "--learning-rate", "1e-3", "--save-best",
                                     "--backbone", "synthetic-tiny", "--clip-pretrained", str(clip),
                                     "--qformer-init", "random", "--cache-dir", str(tmp_path / "cache"),
                                     "--output-dir", str(out)])
    assert keys <= set(metrics) and all(0 <= v <= 100 for v in metrics.values())
    record = json.loads((out / "metrics.json").read_text())
    assert record["protocol"] == ("fiq.original" if dataset == "FashionIQ" else "cirr.rc2")
    assert record["metrics"] == pytest.approx(metrics)
    assert (out / "best.pth").is_file() and not (out / "last.pth").exists()
    assert (out / "predictions.json").is_file()


def test_holdout_split(tiny_fashionmt, tmp_path):
    root, _ = tiny_fashionmt
    new = write_holdout(root, tmp_path / "held", ["fc", "200k"], holdout=5)
    for subset in ("fc", "200k"):
        original = FashionMT(root / "FashionMT", "train", subset=subset).queries
        train = FashionMT(new / "FashionMT", "train", subset=subset)
        test = FashionMT(new / "FashionMT", "test", subset=subset)
        assert train.queries == original[:-5] and test.queries == original[-5:]
        assert set(test.gallery()) == {n for s in original for n in s.images}
        assert test.image_path(test.queries[0].ref).is_file()
        test.gallery_caption(test.queries[0].tar3)  # gallery captions resolve in the new root
    with pytest.raises(ValueError, match="--holdout"):
        write_holdout(root, tmp_path / "bad", ["fc"], holdout=16)
