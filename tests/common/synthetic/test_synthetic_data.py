"""The synthetic benchmark: byte-for-byte determinism, every reader parses it, captions name what changes."""
from __future__ import annotations

import filecmp
import io
import json
from pathlib import Path

import numpy as np
import pytest

from common.data.verify import verify
from common.synthetic import WRITERS, ensure_synthetic, generate
from common.synthetic.attributes import CATEGORIES, CLOTHES, SHOES, differences, neighbour, random_garment
from common.synthetic.captions import (canonical_caption, mention_words, relative_caption, relative_caption_pair,
                                       varied_caption)
from common.synthetic.formats.fashionmt import combination_modifier, combination_target, numbered
from common.synthetic.generate import STAMP
from common.synthetic.io import save_image
from common.synthetic.render import render_garment

VERIFY_NAMES = {"fashion-iq": "fashioniq", "cirr_dataset": "cirr", "shoes": "shoes", "fashion200k": "fashion200k",
                "CIRCO": "circo", "genecis": "genecis", "FashionMT": "fashionmt", "imagenet": "imagenet",
                "corpus": "corpus"}


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_every_folder_is_written_and_stamped(synthetic_root):
    # hidden folders are caches that runs keep beside the data (e.g. MAI's `<data-root>/.cache/mai`)
    written = sorted(p.name for p in synthetic_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert written == sorted(WRITERS)
    assert json.loads((synthetic_root / STAMP).read_text())["seed"] == 0


@pytest.mark.parametrize("folder", sorted(VERIFY_NAMES))
def test_common_data_reads_every_dataset_unchanged(synthetic_root, folder):
    report = io.StringIO()
    status = verify(VERIFY_NAMES[folder], synthetic_root / folder, expected="any", out=report)
    assert status == 0, report.getvalue()
    assert "RESULT: OK" in report.getvalue()


def test_same_seed_gives_identical_bytes(synthetic_root, tmp_path):
    subset = ["shoes", "imagenet", "corpus"]
    again = generate(tmp_path / "again", seed=0, size="small", datasets=subset)
    for folder in subset:
        files = _tree(synthetic_root / folder)
        assert files == _tree(again / folder)
        match, mismatch, errors = filecmp.cmpfiles(synthetic_root / folder, again / folder, files, shallow=False)
        assert not mismatch and not errors, (folder, mismatch[:3], errors[:3])


def test_png_files_carry_no_metadata(tmp_path):
    image, _ = render_garment(random_garment(np.random.default_rng(5), ("dress",)), np.random.default_rng(6))
    save_image(image, tmp_path / "a.png")
    save_image(image, tmp_path / "b.png")
    data = (tmp_path / "a.png").read_bytes()
    assert data == (tmp_path / "b.png").read_bytes()
    assert b"tIME" not in data and b"tEXt" not in data


def test_another_seed_gives_other_data(tmp_path):
    first = generate(tmp_path / "s1", seed=1, size="small", datasets=["corpus"])
    second = generate(tmp_path / "s2", seed=2, size="small", datasets=["corpus"])
    assert (first / "corpus" / "captions.txt").read_text() != (second / "corpus" / "captions.txt").read_text()


def test_ensure_synthetic_reuses_a_current_folder(synthetic_root):
    stamp = synthetic_root / STAMP
    before = stamp.stat().st_mtime_ns
    assert ensure_synthetic(synthetic_root, seed=0, size="small") == synthetic_root
    assert stamp.stat().st_mtime_ns == before


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="size must be one of"):
        generate(tmp_path / "x", size="huge")
    with pytest.raises(ValueError, match="unknown synthetic datasets"):
        generate(tmp_path / "x", datasets=["fashion-iq", "coco"])
    assert not (tmp_path / "x").exists()


def test_relative_captions_mention_every_changed_attribute():
    rng = np.random.default_rng(0)
    for _ in range(400):
        kind = CLOTHES if rng.random() < 0.7 else SHOES
        reference = random_garment(rng, kind)
        target = neighbour(reference, rng, 1 + int(rng.integers(3)), categories=kind)
        diff = differences(reference, target)
        assert diff
        joined = " and ".join(relative_caption_pair(reference, target, rng))
        single = relative_caption(reference, target, rng)
        for name, (_, value) in diff.items():
            words = mention_words(name, value)
            assert any(w in joined for w in words), (name, value, joined)
            assert any(w in single for w in words), (name, value, single)


def test_relative_captions_do_not_describe_the_whole_target():
    """Text alone must not identify the target: unchanged attributes stay unmentioned in single changes."""
    rng = np.random.default_rng(1)
    reference = random_garment(rng, ("dress",)).with_changes(color="red", pattern="solid", sleeve="long",
                                                              neckline="round", length="long")
    target = reference.with_changes(color="blue")
    for _ in range(20):
        caption = relative_caption(reference, target, rng)
        assert "blue" in caption and "sleeve" not in caption and "neck" not in caption


def test_absolute_captions_state_every_attribute():
    rng = np.random.default_rng(2)
    for _ in range(300):
        garment = random_garment(rng, tuple(CATEGORIES))
        for caption in (canonical_caption(garment), varied_caption(garment, rng)):
            for name, value in garment.attrs:
                if name == "pattern" and value == "solid":
                    continue  # a plain garment may be described without a pattern word
                assert any(w in caption for w in mention_words(name, value)), (name, value, caption)


def test_fashionmt_turns_are_phrased_as_in_the_original():
    rng = np.random.default_rng(3)
    assert numbered(["is red", "has dots"]) == "1. is red 2. has dots "
    history = [random_garment(rng, ("dress",))]
    history += [neighbour(history[-1], rng, 2), None]
    history[2] = neighbour(history[1], rng, 2)
    target, shared = combination_target(history, rng)
    fc = combination_modifier(history, target, shared, "fc", rng)
    assert "keep the FIRST's" in fc or "keep the SECOND's" in fc
    assert fc.startswith("1. ") and fc.endswith(" ")


def test_fashionmt_files_have_combination_and_rollback_turns(synthetic_root):
    modifiers = synthetic_root / "FashionMT" / "modifiers"
    rollback = json.loads((modifiers / "shoes_test_cap.json").read_text())
    assert all(("FIRST" in s["mod3"]) != ("SECOND" in s["mod3"]) and s["mod3"].split(", and ")[1].startswith("1. ")
               for s in rollback)
    combination = json.loads((modifiers / "Fiq_val_cap.json").read_text())
    assert all("keep" in s["mod3"] and "'s " in s["mod3"] for s in combination)
    assert all(len(s["mod1"].split(". ")) >= 3 for s in combination)  # at least two numbered clauses


def test_renders_differ_per_draw_but_keep_the_garment_colour():
    rng = np.random.default_rng(4)
    garment = random_garment(rng, ("skirt",)).with_changes(color="red", pattern="solid")
    (a, mask_a), (b, mask_b) = render_garment(garment, rng), render_garment(garment, rng)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and mask_a.any()
    assert not np.array_equal(a, b)
    mean_red = a[mask_a].astype(float).mean(0)
    assert mean_red[0] > 120 and mean_red[1] < 110 and mean_red[2] < 110
