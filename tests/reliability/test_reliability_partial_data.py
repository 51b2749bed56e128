"""Evaluation on a dataset with missing images: refused by default; with --allow-partial it runs, warns loudly
and records the coverage in metrics.json."""
from __future__ import annotations

import json

import pytest

from tests.reliability.reliability_helpers import assert_fails_naming, files_under, run

MISSING = ("dressval2", "shirtval4")


def _command(root, clip_dir, out, *extra):
    return ["-m", "common.baselines", "--data-root", str(root), "--benchmarks", "fashioniq", "--backbone",
            "synthetic-tiny", "--pretrained", str(clip_dir), "--output-dir", str(out), "--no-cache",
            "--methods", "image_only", *extra]


@pytest.mark.slow
def test_missing_images_refused_by_default_then_evaluated_with_coverage(micro_root, clip_dir, tmp_path):
    for name in MISSING:
        (micro_root / "fashion-iq" / "images" / f"{name}.png").unlink()

    refused = run(_command(micro_root, clip_dir, tmp_path / "refused"))
    assert_fails_naming(refused, micro_root / "fashion-iq" / "images", "image: missing", "PARTIAL DATASET")
    assert files_under(tmp_path / "refused") == []

    partial = run(_command(micro_root, clip_dir, tmp_path / "partial", "--allow-partial"))
    assert partial.returncode == 0, partial.stderr[-3000:]
    warning = [line for line in partial.stderr.splitlines() if line.startswith("WARNING: PARTIAL DATASET")]
    assert warning and "2 of 18 referenced images are missing" in warning[0], partial.stderr[-3000:]
    assert "coverage 88.89%" in warning[0]
    for protocol in ("fiq.original", "fiq.val_union"):
        metrics = json.loads((tmp_path / "partial" / "image_only" / protocol / "metrics.json").read_text())
        coverage = metrics["coverage"]
        assert (coverage["referenced"], coverage["present"], coverage["missing"]) == (18, 16, 2)
        assert coverage["fraction"] == pytest.approx(16 / 18)
        # each missing image is the candidate of one triplet and the target of another: 4 of 18 queries dropped
        assert (coverage["queries"], coverage["queries_total"]) == (14, 18)
        assert 0 <= metrics["metrics"]["average_R@10"] <= 100


def _fashionern(script, root, clip_dir, out, *extra):
    return [f"fashionern/run/{script}", "--data-root", str(root), "--clip-model-name", "synthetic-tiny",
            "--device", "cpu", "--output-dir", str(out), "--cache-dir", str(out / "cache"), *extra]


@pytest.mark.slow
def test_fashionern_trains_and_tests_on_the_images_present_only_when_allowed(micro_root, clip_dir, tmp_path):
    missing = ("dresstrain1", *MISSING)
    for name in missing:
        (micro_root / "fashion-iq" / "images" / f"{name}.png").unlink()
    train = ("train_fiq.py", "--clip-model-path", str(clip_dir), "--no-tme", "--num-epochs", "1", "--batch-size", "4",
             "--validation-frequency", "1")
    refused = run(_fashionern(*train[:1], micro_root, clip_dir, tmp_path / "refused", *train[1:]))
    assert_fails_naming(refused, micro_root / "fashion-iq" / "images", "image: missing", "PARTIAL DATASET")
    assert not (tmp_path / "refused" / "metrics.json").exists()

    trained = run(_fashionern(*train[:1], micro_root, clip_dir, tmp_path / "train", *train[1:], "--allow-partial"))
    assert trained.returncode == 0, trained.stderr[-3000:]
    coverage = json.loads((tmp_path / "train" / "metrics.json").read_text())["coverage"]
    # train: dresstrain1 is the candidate of one triplet and the target of another
    assert (coverage["train"]["missing"], coverage["train"]["train_triplets"]) == (1, 16)
    assert coverage["train"]["train_triplets_total"] == 18
    assert (coverage["eval"]["missing"], coverage["eval"]["queries"], coverage["eval"]["queries_total"]) == (2, 14, 18)

    tested = run(_fashionern("test_fiq.py", micro_root, clip_dir, tmp_path / "test", "--clip-path", str(clip_dir),
                             "--fusion-model-path", str(tmp_path / "train" / "fashioniq-best.pth"),
                             "--allow-partial"))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "WARNING: PARTIAL DATASET" in tested.stderr
    tested_coverage = json.loads(next((tmp_path / "test").rglob("metrics.json")).read_text())["coverage"]
    assert (tested_coverage["queries"], tested_coverage["queries_total"]) == (14, 18)


def test_spirit_keeps_only_triplets_and_queries_whose_images_are_present(micro_root):
    from common.data.errors import DataFormatError
    from spirit.dataloader.benchmarks import load_eval_sets, load_train_set
    from spirit.dataloader.partial import present_eval_sets, present_train_set

    for name in ("dresstrain1", *MISSING):
        (micro_root / "fashion-iq" / "images" / f"{name}.png").unlink()
    train_set, train_reader = load_train_set("fashioniq", micro_root)
    eval_sets, eval_reader = load_eval_sets("fashioniq", micro_root)
    with pytest.raises(DataFormatError, match="dresstrain1.png: image: missing"):
        present_train_set(train_set, train_reader, allow_partial=False)
    with pytest.warns(RuntimeWarning, match="PARTIAL DATASET"):
        kept_train, train_coverage = present_train_set(train_set, train_reader, allow_partial=True)
        kept_sets, eval_coverage = present_eval_sets(eval_sets, eval_reader, allow_partial=True)
    assert (train_coverage["train_triplets"], train_coverage["train_triplets_total"]) == (16, 18)
    assert all("dresstrain1" not in (t.reference, t.target) for t in kept_train.triplets)
    assert (eval_coverage["queries"], eval_coverage["queries_total"]) == (14, 18)
    dress = next(s for s in kept_sets if s.name == "dress")
    assert "dressval2" not in dress.gallery and "dressval2" not in dress.references
    assert len(dress.references) == len(dress.texts) == len(dress.targets) == 4
    assert all("dressval2" not in targets for targets in dress.targets)


def _zero_shot_command(method, root, clip_dir, out, *extra):
    """LinCIR's validate.py or FTI4CIR's evaluate.py on FashionIQ with an untrained checkpoint of the right shape."""
    from common.checkpoint import save_atomic
    from common.clip import load_clip

    clip = load_clip("synthetic-tiny", pretrained=str(clip_dir))
    shared = ["--clip_model_name", "synthetic-tiny", "--clip_pretrained", str(clip_dir), "--data-root", str(root),
              "--output-dir", str(out), "--device", "cpu"]
    if method == "lincir":
        from lincir.models.phi import build_phi

        ckpt = save_atomic({"epoch": 0, "Phi": build_phi(clip.embed_dim, clip.text_width).state_dict()},
                           out.parent / "phi_best.pt")
        return ["lincir/validate.py", "--dataset", "fashioniq", "--phi-checkpoint-name", str(ckpt), *shared,
                *(["--allow-partial"] if extra else [])]
    from fti4cir.models.convert import checkpoint_payload
    from fti4cir.models.fti_network import FTI4CIR, FTIConfig

    config = FTIConfig(patch_dim=clip.vision_width, embed_dim=clip.embed_dim, token_dim=clip.text_width, num_k=8,
                       topk=4, tf_layer=1)
    ckpt = save_atomic(checkpoint_payload(FTI4CIR(config)), out.parent / "model_last.pt")
    return ["fti4cir/run/evaluate.py", "--dataset", "fashioniq", "--model_path", str(ckpt), *shared,
            "--feature_cache", str(out.parent / "cache"), *(["--allow_partial"] if extra else [])]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lincir", "fti4cir"])
def test_zero_shot_evaluation_refuses_then_counts_missing_images(method, micro_root, clip_dir, tmp_path):
    for name in MISSING:
        (micro_root / "fashion-iq" / "images" / f"{name}.png").unlink()

    refused = run(_zero_shot_command(method, micro_root, clip_dir, tmp_path / "refused" / "out"))
    assert_fails_naming(refused, micro_root / "fashion-iq" / "images", "image: missing", "PARTIAL DATASET")
    assert files_under(tmp_path / "refused" / "out") == []

    partial = run(_zero_shot_command(method, micro_root, clip_dir, tmp_path / "partial" / "out", "allow"))
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert "WARNING: PARTIAL DATASET" in partial.stderr
    record = json.loads(next((tmp_path / "partial" / "out").rglob("metrics.json")).read_text())
    coverage = record["coverage"]
    assert (coverage["referenced"], coverage["present"], coverage["missing"]) == (18, 16, 2)
    assert (coverage["queries"], coverage["queries_total"]) == (14, 18)
    assert 0 <= record["metrics"]["average_R@10"] <= 100


def test_mai_refuses_a_fashionmt_split_with_a_missing_image(tmp_path):
    from tests.mai.conftest import write_tiny_clip, write_tiny_fashionmt

    root, clip_dir = write_tiny_fashionmt(tmp_path / "mt"), write_tiny_clip(tmp_path / "clip")
    missing = root / "FashionMT" / "images" / "p0" / "a.png"
    missing.unlink()
    refused = run(["mai/run/train_ddp.py", "--dataset", "fc", "--num-epochs", "1", "--batch-size", "4",
                   "--data-root", str(root), "--backbone", "synthetic-tiny", "--clip-pretrained", str(clip_dir),
                   "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out"), "--device", "cpu"])
    assert_fails_naming(refused, missing, "image: missing", "PARTIAL DATASET")
    assert files_under(tmp_path / "out") == []
