"""Text handling: BLIP caption cleaning, clause sampling, history captions, rollback reference, tokenizer."""
import random

import pytest

from mai.dataloader.text import (first_and_last_clauses, history_captions, pre_caption, rollback_reference,
                                 select_caps_compose)
from mai.models.tokenizer import build_word_vocab, load_tokenizer


def test_pre_caption_rules():
    assert pre_caption("FIRST: A Red (long) dress!  ok.") == "first a red long dress ok"
    assert pre_caption(" ".join(["w"] * 60)).count("w") == 50


def test_select_caps_compose():
    rng = random.Random(0)
    combo = "1. is purple 2. is a top 3. keep the FIRST's dot design and keep the SECOND's neck design "
    for _ in range(10):
        first, keep = select_caps_compose(combo, rng).split(" and ", 1)
        assert first in ("is purple", "is a top") and keep.startswith("keep the FIRST's")
    two = select_caps_compose("I prefer the FIRST, and 1. has checks 2. is longer ", rng)
    assert sorted(two.split(" and ")) == ["has checks", "is longer"]
    assert select_caps_compose("I prefer the SECOND, and 1. has checks ", rng) == \
        "I prefer the SECOND, and 1. has checks "


def test_history_and_rollback():
    assert history_captions(["a", "b"]) == "FIRST: a SECOND: b"
    assert pre_caption(history_captions(["a", "b", "c"])) == "first a second b third c"
    with pytest.raises(ValueError, match="1–3 captions"):
        history_captions(["a"] * 4)
    assert [rollback_reference(t) for t in ("I prefer the FIRST, and", "the SECOND", "1. is red")] == [0, 1, 2]


def test_tokenizer_from_word_vocab(tmp_path):
    tok = load_tokenizer(build_word_vocab(["a red dress", "keep the first's"], tmp_path / "vocab.txt"))
    ids = tok(["a red dress"])["input_ids"][0]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "a", "red", "dress", "[SEP]"]
    assert tok.bos_token == "[DEC]" and tok.bos_token_id == len(tok) - 1
    (tmp_path / "bad.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="bad.txt: vocab: missing special tokens"):
        load_tokenizer(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_tokenizer(tmp_path / "nope.txt")


def test_evaluation_modifier_is_the_first_and_last_clause():
    combo = "1. has a blue color. 2. is a shirt. 3. keep the first's collar."
    assert first_and_last_clauses(combo) == "has a blue color. and keep the first's collar."
    assert pre_caption(first_and_last_clauses(combo)) == "has a blue color and keep the first's collar"
    assert first_and_last_clauses("I prefer the SECOND, and 1. has checks. 2. is longer.") == "has checks. and is longer."
    assert first_and_last_clauses("1. has checks.") == "has checks."
    assert first_and_last_clauses("make it red") == "make it red"  # the original would give ""



def test_history_texts_go_through_the_text_processor():
    from mai.models.multi_turn import _history_texts

    texts = {"cap0": ["A red dress.", "x"], "cap1": ["Blue: shirt", "y"]}
    assert _history_texts(texts, 2) == ["first a red dress second blue shirt", "first x second y"]
