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


@pytest.mark.slow
def test_baselines_on_synthetic_cirr_match_an_independent_computation(synthetic_cirr, tmp_path, capsys):
    import json

    from common.baselines import parse_args, run_baselines
    from common.clip import build_tiny_clip

    backbone = build_tiny_clip("open_clip", "vit").eval()
    args = parse_args(["--data-root", str(synthetic_cirr), "--output-dir", str(tmp_path / "out"),
                       "--cache-dir", str(tmp_path / "cache"), "--benchmarks", "cirr"])
    runs = run_baselines(args, backbone=backbone)
    assert [r.method for r in runs] == ["image_only", "text_only", "feature_sum"]
    table = capsys.readouterr().out
    assert "| feature_sum | cirr.rc2 |" in table
    for method in ("image_only", "feature_sum"):
        record = json.loads((tmp_path / "out" / method / "cirr.rc2" / "metrics.json").read_text())
        assert (record["method"], record["protocol"], record["split"]) == (method, "cirr.rc2", "val")
        expected = _independent_cirr_metrics(synthetic_cirr, backbone, method)
        for key, value in expected.items():
            assert record["metrics"][key] == pytest.approx(value, abs=1e-6), (method, key)
        assert record["metrics"]["avg"] == pytest.approx((expected["R@5"] + expected["Rsubset@1"]) / 2)
        n_queries = len(json.loads((synthetic_cirr / "cirr_dataset/cirr/captions/cap.rc2.val.json").read_text()))
        assert record["coverage"]["queries"] == record["coverage"]["queries_total"] == n_queries
        assert (tmp_path / "out" / method / "cirr.rc2" / "predictions.json").is_file()
    assert list((tmp_path / "cache").glob("gallery-*.pt"))
