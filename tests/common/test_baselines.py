"""Baseline query composition, and every baseline end to end on a tiny generated synthetic benchmark."""
import pytest
import torch
import torch.nn.functional as F

from common.baselines import compose


def test_compose_feature_sum_is_the_renormalised_sum_of_normalised_features():
    image, text = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 0.5]])
    expected = torch.tensor([[1.0, 1.0]]) / 2 ** 0.5
    assert torch.allclose(compose("feature_sum", image, text), expected)
    assert torch.equal(compose("image_only", image, text), image)
    assert torch.equal(compose("text_only", image, text), text)
    assert torch.allclose(compose("feature_sum", image, text).norm(dim=-1), torch.ones(1))
    with pytest.raises(ValueError, match="unknown baseline method 'sum'"):
        compose("sum", image, text)


def test_feature_sum_differs_from_an_unnormalised_sum():
    image, text = torch.tensor([[10.0, 0.0]]), torch.tensor([[0.0, 0.1]])
    unnormalised = F.normalize(image + text, dim=-1)
    assert not torch.allclose(compose("feature_sum", image, text), unnormalised)


@pytest.fixture(scope="module")
def synthetic_cirr(tmp_path_factory):
    import numpy as np

    from common.synthetic.formats.cirr import write_cirr

    root = tmp_path_factory.mktemp("synthetic")
    write_cirr(root / "cirr_dataset", np.random.default_rng(0), 1)
    return root


def _independent_cirr_metrics(root, backbone, method):
    """CIRR metrics recomputed from the raw JSON files with a full similarity matrix (no common.retrieval)."""
    import json

    from PIL import Image

    cirr = root / "cirr_dataset"
    split = json.loads((cirr / "cirr" / "image_splits" / "split.rc2.val.json").read_text())
    records = json.loads((cirr / "cirr" / "captions" / "cap.rc2.val.json").read_text())
    names = list(split)
    with torch.no_grad():
        images = torch.stack([backbone.preprocess(Image.open(cirr / split[n]).convert("RGB")) for n in names])
        gallery = backbone.encode_image(images).half().float()
        position = {n: i for i, n in enumerate(names)}
        ref = gallery[[position[r["reference"]] for r in records]]
        text = backbone.encode_text(backbone.tokenize([r["caption"] for r in records])).float()
    query = compose(method, ref, text)
    sims = F.normalize(query, dim=-1) @ F.normalize(gallery, dim=-1).T
    hits = {k: 0 for k in (1, 5, 10, 50)}
    subset_hits = {k: 0 for k in (1, 2, 3)}
    for i, r in enumerate(records):
        row = sims[i].clone()
        row[position[r["reference"]]] = -float("inf")
        rank = int((row > row[position[r["target_hard"]]]).sum())
        members = [m for m in r["img_set"]["members"] if m != r["reference"]]
        subset_rank = sum(bool(row[position[m]] > row[position[r["target_hard"]]]) for m in members)
        for k in hits:
            hits[k] += rank < k
        for k in subset_hits:
            subset_hits[k] += subset_rank < k
    n = len(records)
    report = {f"R@{k}": 100 * v / n for k, v in hits.items()}
    report.update({f"Rsubset@{k}": 100 * v / n for k, v in subset_hits.items()})
    return report


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A synthetic-tiny folder holding a random tiny CLIP (the trained one is built by the demo)."""
    import json

    from common.checkpoint import save_atomic
    from common.clip.tiny import tiny_open_clip_config, tiny_open_clip_state

    folder = tmp_path_factory.mktemp("tiny")
    config = tiny_open_clip_config("vit")
    (folder / "synthetic-tiny.json").write_text(json.dumps(config))
    save_atomic(tiny_open_clip_state(config), folder / "open_clip_model.pt")
    return folder


@pytest.mark.slow
def test_command_line_on_synthetic_cirr_matches_an_independent_computation(synthetic_cirr, tiny_weights, tmp_path):
    import json
    import subprocess
    import sys

    from common.clip import load_clip

    out = subprocess.run([sys.executable, "-m", "common.baselines", "--data-root", str(synthetic_cirr),
                          "--backbone", "synthetic-tiny", "--pretrained", str(tiny_weights), "--output-dir",
                          str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "not found, shoes skipped" in out.stderr  # absent benchmark folders are reported, not invented
    assert list((tmp_path / "cache").glob("gallery-*.pt"))
    n_queries = len(json.loads((synthetic_cirr / "cirr_dataset/cirr/captions/cap.rc2.val.json").read_text()))
    backbone = load_clip("synthetic-tiny", pretrained=tiny_weights).eval()
    for method in ("image_only", "text_only", "feature_sum"):
        assert f"| {method} | cirr.rc2 |" in out.stdout
        folder = tmp_path / "out" / method / "cirr.rc2"
        record = json.loads((folder / "metrics.json").read_text())
        assert (record["method"], record["protocol"], record["split"]) == (method, "cirr.rc2", "val")
        assert record["config"]["backbone_id"] == "open_clip:synthetic-tiny"
        assert record["coverage"]["queries"] == record["coverage"]["queries_total"] == n_queries
        assert (folder / "predictions.json").is_file()
        if method == "text_only":
            continue
        expected = _independent_cirr_metrics(synthetic_cirr, backbone, method)
        assert set(record["metrics"]) == set(expected) | {"avg"}
        for key, value in expected.items():
            assert record["metrics"][key] == pytest.approx(value, abs=1e-6), (method, key)
        assert record["metrics"]["avg"] == pytest.approx((expected["R@5"] + expected["Rsubset@1"]) / 2)


class CountingBackbone(torch.nn.Module):
    """A stand-in CLIP: image feature = mean RGB, text feature = (length, vowels, 1); counts what it encodes."""

    image_size = 8

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.images_encoded, self.texts_encoded = 0, []

    def preprocess(self, image):
        return torch.tensor(list(image.convert("RGB").resize((8, 8)).getdata()), dtype=torch.float32).T

    def encode_image(self, images):
        self.images_encoded += images.shape[0]
        return images.mean(dim=-1) * self.scale

    def tokenize(self, texts):
        self.tokenized = list(texts)  # ids index the last tokenized batch
        return torch.arange(len(texts))

    def encode_text(self, ids):
        texts = [self.tokenized[i] for i in ids.tolist()]
        self.texts_encoded += texts
        return torch.tensor([[len(t), sum(c in "aeiou" for c in t), 1.0] for t in texts])


def test_fashioniq_baselines_share_each_feature_and_use_the_single_eval_caption(tmp_path):
    from common.baselines import METHODS, FeatureExtractor, eval_fashioniq
    from common.data import fiq_caption
    from tests.reliability.reliability_helpers import write_micro_fiq

    root = write_micro_fiq(tmp_path / "fashion-iq")
    backbone = CountingBackbone()
    runs = eval_fashioniq(FeatureExtractor(backbone, None, 64, 0), root, METHODS, allow_partial=False)
    protocols = ("fiq.original", "fiq.val_union")
    assert [(r.method, r.protocol) for r in runs] == [(m, p) for p in protocols for m in METHODS]
    assert backbone.images_encoded == 18  # 3 methods x 2 protocols, every val image encoded once
    assert sorted(backbone.texts_encoded) == sorted({fiq_caption("is blue", "make it blue.", "eval"),
                                                     fiq_caption("is green", "make it green.", "eval"),
                                                     fiq_caption("is black", "make it black.", "eval"),
                                                     fiq_caption("is red", "make it red.", "eval")})
    assert all((r.coverage["queries"], r.coverage["queries_total"]) == (18, 18) for r in runs)
    assert all(0 <= r.metrics["average_R@10"] <= 100 and r.predictions for r in runs)


def test_every_variant_gets_its_own_run_folder(tmp_path):
    """FashionMT's last-turn and all-turns feature sums of one subset must not overwrite each other."""
    from common.baselines import Run, run_dir

    def run(variant):
        return Run("feature_sum", "fashionmt.final_turn", "fashionmt", "test", {}, {}, [], {}, subset="fc",
                   variant=variant)

    assert run_dir(tmp_path, run("fc")) == tmp_path / "feature_sum" / "fashionmt.final_turn" / "fc"
    assert run_dir(tmp_path, run("fc, all-turns")) == tmp_path / "feature_sum" / "fashionmt.final_turn" / "fc-all-turns"
