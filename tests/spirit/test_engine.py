"""SPIRIT's engine pieces without a CLIP: feature banks, text cache, ranking in eval mode, metric assembly."""
import pytest
import torch

from spirit.dataloader.image_features import ImageFeatures, merge_features
from spirit.dataloader.records import EvalSet
from spirit.dataloader.text_features import TextFeatureCache
from spirit.models import SPIRIT
from spirit.run.evaluator import metrics_for, rank
from spirit.run.trainer import per_process_batch

D = 16


class CountingTextEncoder(torch.nn.Module):
    """Stands in for a ClipBackbone: tokenize = string length, encode_text = a fixed embedding of it."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.table = torch.nn.Embedding(100, D)

    def tokenize(self, texts):
        return torch.tensor([[len(t)] for t in texts])

    def encode_text(self, ids):
        self.calls += 1
        return self.table(ids[:, 0])


def bank(names, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageFeatures(list(names), torch.randn(len(names), D, generator=g), torch.randn(len(names), 13, D, generator=g))


def test_text_cache_encodes_each_text_once():
    enc = CountingTextEncoder()
    cache = TextFeatureCache(enc, batch_size=2)
    first = cache(["a", "bb", "a", "ccc"])
    assert first.shape == (4, D) and torch.equal(first[0], first[2])
    calls = enc.calls
    assert torch.equal(cache(["ccc", "bb"]), first[[3, 1]])
    assert enc.calls == calls and len(cache) == 3


def test_feature_bank_select_merge_and_errors():
    a, b = bank(["x", "y"], 0), bank(["y", "z"], 1)
    merged = merge_features([a, b])
    assert merged.names == ["x", "y", "z"]
    g, p = merged.select(["z", "y"])
    assert torch.equal(g[0], b.global_features[1]) and torch.equal(g[1], a.global_features[1])
    assert p.shape == (2, 13, D)
    with pytest.raises(KeyError, match="'nope'"):
        merged.select(["nope"])
    with pytest.raises(ValueError, match="duplicate"):
        ImageFeatures(["x", "x"], torch.zeros(2, D), torch.zeros(2, 13, D))


def test_rank_runs_in_eval_mode_and_restores_training_mode():
    torch.manual_seed(0)
    names = [f"img{i}" for i in range(8)]
    features, texts = bank(names), TextFeatureCache(CountingTextEncoder())
    eval_set = EvalSet("val", names, names[:4], ["a", "bb", "ccc", "dddd"], [[n] for n in names[4:]],
                       exclude_reference=True, groups=[names] * 4)
    model = SPIRIT(feature_dim=D).train()  # dropout 0.5 everywhere: train-mode scores would differ run to run
    first = rank(model, features, texts, eval_set, torch.device("cpu"))
    second = rank(model, features, texts, eval_set, torch.device("cpu"))
    assert model.training
    assert first.ranked == second.ranked and first.subset_ranked == second.subset_ranked
    for ref, ranked, subset in zip(eval_set.references, first.ranked, first.subset_ranked):
        assert ref not in ranked and ref not in subset and len(ranked) == len(subset) == 7
    report = metrics_for("cirr", [eval_set], [first])
    assert set(report) == {"R@1", "R@5", "R@10", "R@50", "Rsubset@1", "Rsubset@2", "Rsubset@3", "avg"}


def test_metric_keys_per_dataset():
    names = ["a", "b", "c"]
    sets = [EvalSet(cat, names, ["a"], ["t"], [["b"]]) for cat in ("dress", "shirt", "toptee")]
    from spirit.run.evaluator import Rankings

    rankings = [Rankings([["b", "c", "a"]])] * 3
    fiq = metrics_for("fashioniq", sets, rankings)
    assert fiq["dress_R@1"] == 100.0 and fiq["avg"] == 100.0 and "average_R@50" in fiq
    shoes = metrics_for("shoes", sets[:1], [Rankings([["c", "b", "a"]])])
    assert shoes == {"R@1": 0.0, "R@10": 100.0, "R@50": 100.0, "avg": 100.0}
    f200k = metrics_for("fashion200k", [EvalSet("test", names, ["a"], ["t"], [["c", "b"]])], [Rankings([["b", "a"]])])
    assert f200k == {"R@1": 100.0, "R@10": 100.0, "R@50": 100.0}


def test_batch_split_errors_are_explicit():
    assert per_process_batch(64, 2, 1000) == 32
    with pytest.raises(ValueError, match="need >= 2"):
        per_process_batch(2, 2, 1000)
    with pytest.raises(ValueError, match="only 50 training triplets"):
        per_process_batch(64, 1, 50)
