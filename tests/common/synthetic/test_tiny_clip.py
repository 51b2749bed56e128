"""The tiny CLIP: its training shortcuts are exact, composed captions, its folder contract, held-out retrieval."""
from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch

from common.synthetic.attributes import CATEGORIES, random_garment
from common.synthetic.captions import mention_words
from common.synthetic.tiny_clip import (CONFIG_FILE, MODEL_CONFIG, WEIGHTS_FILE, CompactVocabulary, _render_set,
                                        build_model, composed_caption, encode_text_short, evaluate, tiny_clip_dir)

CAPTIONS = ["a long plain red dress with short sleeves and a v-neck", "a boot", "a photo of a striped blue shirt"]


def test_short_text_encoding_equals_the_full_77_token_encoding():
    torch.manual_seed(0)
    model = build_model().eval()
    ids = open_clip.tokenize(CAPTIONS)
    assert ids.shape == (3, 77)
    with torch.no_grad():
        torch.testing.assert_close(encode_text_short(model, ids), model.encode_text(ids), atol=1e-5, rtol=1e-5)


def test_compact_vocabulary_trains_only_used_rows_and_writes_them_back():
    torch.manual_seed(0)
    model = build_model()
    ids = open_clip.tokenize(CAPTIONS)
    before = model.token_embedding.weight.detach().clone()
    vocabulary = CompactVocabulary(model, ids)
    torch.testing.assert_close(vocabulary(ids), model.token_embedding(ids))
    with torch.no_grad():
        vocabulary.rows.add_(1.0)
    vocabulary.write_back(model)
    used = torch.unique(ids)
    changed = (model.token_embedding.weight != before).any(1).nonzero().flatten()
    assert torch.equal(changed, used)
    assert model.token_embedding.weight.requires_grad


def test_composed_caption_is_another_garment_plus_the_changes_that_make_it_this_one():
    rng = np.random.default_rng(5)
    joiners = set()
    for _ in range(200):
        g = random_garment(rng, tuple(CATEGORIES))
        text = composed_caption(g, rng)
        head, joiner, change = next((text.partition(j)) for j in (" but ", " that ", ", ") if j in text)
        joiners.add(joiner.strip())
        assert head.split()[0] in ("a", "an") and change, text
        # the change names a value of g that the described other garment did not have
        assert any(word in change for name, value in g.attrs for word in mention_words(name, value)) \
            or any(word in change for word in mention_words("category", g.category)), text
    assert joiners == {"but", "that", ","}


def test_missing_model_names_the_command_that_builds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CIR_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"python -m common.synthetic.tiny_clip --seed 3"):
        tiny_clip_dir(3)


@pytest.mark.slow  # trains the tiny CLIP (about 2.5 CPU-minutes) when $CIR_CACHE does not hold it yet
def test_folder_holds_an_open_clip_config_and_state_dict(tiny_clip_dir):
    config = json.loads((tiny_clip_dir / CONFIG_FILE).read_text())
    assert config == MODEL_CONFIG and config["text_cfg"]["context_length"] == 77
    open_clip.add_model_config(tiny_clip_dir)
    model = open_clip.create_model("synthetic-tiny", pretrained=str(tiny_clip_dir / WEIGHTS_FILE))
    state = torch.load(tiny_clip_dir / WEIGHTS_FILE, weights_only=True)
    assert set(state) == set(model.state_dict())
    torch.testing.assert_close(model.state_dict()["text_projection"], state["text_projection"])


@pytest.mark.slow
def test_heldout_retrieval_reaches_60_percent_both_ways_and_50_percent_composed(tiny_clip_dir):
    recorded = json.loads((tiny_clip_dir / "metrics.json").read_text())["metrics"]
    assert recorded["image_to_text_R@1"] >= 60 and recorded["text_to_image_R@1"] >= 60
    model = open_clip.model.CLIP(**json.loads((tiny_clip_dir / CONFIG_FILE).read_text()))
    model.load_state_dict(torch.load(tiny_clip_dir / WEIGHTS_FILE, weights_only=True))
    garments, images, captions = _render_set(400, np.random.default_rng(20261125), 0, 1)  # never seen in training
    fresh = evaluate(model, garments, images, [c[0] for c in captions])
    assert fresh["image_to_text_R@1"] >= 60, fresh
    assert fresh["text_to_image_R@1"] >= 60, fresh
    # "another garment + change" finds the changed garment (chance: about 1 in 230 distinct garments here)
    assert fresh["composed_text_to_image_R@1"] >= 50, fresh


def test_training_runs_single_threaded_and_restores_the_thread_count(monkeypatch):
    import common.synthetic.tiny_clip as tiny_clip

    seen = []
    monkeypatch.setattr(tiny_clip, "_train", lambda cfg, log: seen.append(torch.get_num_threads()) or {"ok": 1.0})
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert tiny_clip.train(tiny_clip.TrainConfig(seed=0)) == {"ok": 1.0}
        assert seen == [1] and torch.get_num_threads() == 2  # weights do not depend on the caller's threads
    finally:
        torch.set_num_threads(before)
