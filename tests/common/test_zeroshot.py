"""common.zeroshot on hand-written FashionIQ / CIRR folders with a fake QueryEncoder whose rankings are known."""
from __future__ import annotations

import pytest
import torch

from common import zeroshot
from common.data.errors import DataFormatError
from tests.reliability.reliability_helpers import write_micro_cirr, write_micro_fiq


def one_hot(index: int, weight: float = 1.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(index % 6), 6).float() * weight


class FiqEncoder:
    """Gallery image i -> e_i. Query of candidate i (target t = i+1): the forward caption order ("Is ...") gives
    e_t, the reverse order ("Make ...") 2 e_{t+1} for even i and 0.5 e_{t+1} for odd i."""

    def gallery(self, names, image_path, load_image=None):
        return torch.stack([one_hot(int(n[-1])) for n in names])

    def queries(self, references, texts, image_path, load_image=None):
        rows = []
        for reference, text in zip(references, texts):
            i = int(reference[-1])
            if text.startswith("Is "):
                rows.append(one_hot(i + 1))
            else:
                rows.append(one_hot(i + 2, 2.0 if i % 2 == 0 else 0.5))
        return torch.stack(rows)


class CirrEncoder:
    """Gallery image i -> e_i. Query i (target i+1) leans hardest on its own reference (3 e_i, excluded by the
    protocol), then on the target, except queries 0 and 1 which prefer image i+2."""

    def gallery(self, names, image_path, load_image=None):
        return torch.stack([one_hot(int(n.split("-")[1])) for n in names])

    def queries(self, references, texts, image_path, load_image=None):
        rows = []
        for reference in references:
            i = int(reference.split("-")[1])
            first, second = (i + 2, i + 1) if i < 2 else (i + 1, i + 2)
            rows.append(one_hot(i, 3.0) + one_hot(first) + one_hot(second, 0.5))
        return torch.stack(rows)


@pytest.fixture
def fiq_root(tmp_path):
    return write_micro_fiq(tmp_path / "fashion-iq")


def test_fashioniq_caption_modes_match_hand_computed_recalls(fiq_root):
    metrics, rows, coverage = zeroshot.evaluate_fashioniq(FiqEncoder(), fiq_root, caption_mode="eval")
    assert metrics["dress_R@1"] == metrics["average_R@1"] == metrics["avg"] == 100.0
    assert rows[0]["text"].startswith("Is ") and rows[0]["ranked"][0] == rows[0]["targets"][0] == "dressval1"
    assert (coverage["queries"], coverage["queries_total"], coverage["missing"]) == (18, 18, 0)

    # both orders: even candidates rank target second (e_t + 2 e_{t+1}), odd ones first (e_t + 0.5 e_{t+1})
    metrics, _, _ = zeroshot.evaluate_fashioniq(FiqEncoder(), fiq_root)
    assert metrics["average_R@1"] == pytest.approx(50.0)
    assert metrics["shirt_R@5"] == metrics["average_R@10"] == 100.0


def test_fashioniq_partial_dataset_refused_then_queries_dropped_and_counted(fiq_root):
    (fiq_root / "images" / "dressval2.png").unlink()
    with pytest.raises(DataFormatError, match="dressval2"):
        zeroshot.evaluate_fashioniq(FiqEncoder(), fiq_root)
    with pytest.warns(RuntimeWarning, match="PARTIAL DATASET"):
        metrics, rows, coverage = zeroshot.evaluate_fashioniq(FiqEncoder(), fiq_root, allow_partial=True)
    counts = (coverage["referenced"], coverage["missing"], coverage["queries"], coverage["queries_total"])
    assert counts == (18, 1, 16, 18)
    assert coverage["fraction"] == pytest.approx(17 / 18)
    assert all("dressval2" not in [r["reference"], *r["targets"], *r["ranked"]] for r in rows)
    # dress keeps candidates 0, 3, 4, 5; candidate 0's distractor (image 2) is gone, so only candidate 4 misses R@1
    assert metrics["dress_R@1"] == pytest.approx(75.0)
    assert metrics["shirt_R@1"] == pytest.approx(50.0)


def test_cirr_excludes_the_reference_and_ranks_inside_the_group(tmp_path):
    root = write_micro_cirr(tmp_path / "cirr_dataset")
    metrics, rows, coverage = zeroshot.evaluate(CirrEncoder(), "cirr", root)
    assert metrics["R@1"] == metrics["Rsubset@1"] == pytest.approx(400 / 6)
    assert metrics["R@5"] == metrics["Rsubset@2"] == 100.0
    assert metrics["avg"] == pytest.approx((100 + 400 / 6) / 2)
    assert all(r["reference"] not in r["ranked"] for r in rows)
    assert rows[0]["ranked"][:2] == ["val-2-img0", "val-1-img0"]
    assert (coverage["queries"], coverage["queries_total"]) == (6, 6)


def test_bad_arguments_are_refused(fiq_root):
    with pytest.raises(ValueError, match="caption_mode"):
        zeroshot.evaluate_fashioniq(FiqEncoder(), fiq_root, caption_mode="forward")
    with pytest.raises(ValueError, match="unknown dataset 'shoes'"):
        zeroshot.evaluate(FiqEncoder(), "shoes", fiq_root)
    with pytest.raises(ValueError, match="genecis needs a task"):
        zeroshot.evaluate(FiqEncoder(), "genecis", fiq_root)
    with pytest.raises(ValueError, match="labelled split, 'val' or 'train', got 'test1'"):
        zeroshot.evaluate_cirr(FiqEncoder(), fiq_root, split="test1")


def test_cirr_train_split_is_evaluated_like_val(tmp_path):
    root = write_micro_cirr(tmp_path / "cirr_dataset")
    metrics, rows, coverage = zeroshot.evaluate_cirr(CirrEncoder(), root, split="train")
    assert rows[0]["reference"].startswith("train-") and all(r["reference"] not in r["ranked"] for r in rows)
    assert (coverage["split"], coverage["queries"]) == ("train", 6) and 0 <= metrics["avg"] <= 100
