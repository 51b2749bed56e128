"""Pseudo-token splicing: the true embedding of a word spliced at `$` reproduces encoding the word, in every backend."""
import pytest
import torch

from common.clip import splice_pseudo_tokens

TOL = 1e-5


def _word_embedding(model, word):
    ids = model.tokenize([word])
    assert int((ids[0] != 0).sum()) == 3, f"{word!r} must be one BPE token for this test"
    return model.token_embedding(ids)[0, 1]


def test_all_mode_matches_plain_encoding(tiny):
    words = ["dress", "shirt"]
    with torch.no_grad():
        expected = tiny.encode_text(tiny.tokenize([f"a {w} that is like a {w}" for w in words]))
        pseudo = torch.stack([_word_embedding(tiny, w) for w in words])
        got = tiny.encode_text_with_pseudo_tokens(tiny.tokenize(["a $ that is like a $"] * 2), pseudo)
    assert got.shape == (2, tiny.embed_dim)
    assert (got - expected).abs().max() <= TOL


def test_first_mode_replaces_only_the_first_placeholder(tiny):
    with torch.no_grad():
        expected = tiny.encode_text(tiny.tokenize(["a dress with $ on it"]))
        pseudo = _word_embedding(tiny, "dress")[None]
        got = tiny.encode_text_with_pseudo_tokens(tiny.tokenize(["a $ with $ on it"]), pseudo, "$", mode="first")
        everywhere = tiny.encode_text_with_pseudo_tokens(tiny.tokenize(["a $ with $ on it"]), pseudo, 259)
    assert (got - expected).abs().max() <= TOL
    assert (everywhere - expected).abs().max() > 1e-3


def test_k_vectors_fill_placeholders_in_order(tiny):
    prompts = ["a photo of * with * * but red", "a photo of * with * but red"]
    truth = ["a photo of dress with blue stripes but red", "a photo of shirt with dots but red"]
    words = [["dress", "blue", "stripes"], ["shirt", "dots", "red"]]  # row 2 has 2 slots: its 3rd vector is unused
    with torch.no_grad():
        pseudo = torch.stack([torch.stack([_word_embedding(tiny, w) for w in row]) for row in words])
        got = tiny.encode_text_with_pseudo_tokens(tiny.tokenize(prompts), pseudo, placeholder="*")
        expected = tiny.encode_text(tiny.tokenize(truth))
    assert (got - expected).abs().max() <= TOL


def test_gradient_reaches_pseudo_tokens(tiny):
    pseudo = torch.randn(1, tiny.text_width, requires_grad=True)
    tiny.encode_text_with_pseudo_tokens(tiny.tokenize(["a photo of $"]), pseudo).sum().backward()
    assert pseudo.grad is not None and pseudo.grad.abs().sum() > 0


def test_text_tokens_and_eot_pooling(tiny):
    ids = tiny.tokenize(["a red dress", "a blue shirt with long sleeves"])
    with torch.no_grad():
        tokens = tiny.encode_text_tokens(ids)
        features = tiny.encode_text(ids)
    assert tokens.shape == (2, tiny.context_length, tiny.text_width)
    assert tiny.token_embedding(ids).shape == (2, tiny.context_length, tiny.text_width)
    assert tiny.placeholder_id("$") == 259
    # causal mask: the prefix "a red" has the same hidden states whatever follows it
    with torch.no_grad():
        other = tiny.encode_text_tokens(tiny.tokenize(["a red shirt"]))
    assert (tokens[0, :3] - other[0, :3]).abs().max() <= TOL
    assert not torch.allclose(features[0], features[1])


def test_splice_errors():
    emb, pseudo = torch.zeros(2, 5, 4), torch.ones(2, 4)
    ids = torch.tensor([[1, 259, 2, 0, 0], [1, 2, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"missing from rows \[1\]"):
        splice_pseudo_tokens(emb, ids, pseudo, 259)
    ids[1, 1] = 259
    with pytest.raises(ValueError, match="mode must be one of"):
        splice_pseudo_tokens(emb, ids, pseudo, 259, mode="last")
    with pytest.raises(ValueError, match="pseudo must be"):
        splice_pseudo_tokens(emb, ids, torch.ones(2, 3), 259)
    with pytest.raises(ValueError, match="only K=1"):
        splice_pseudo_tokens(emb, torch.tensor([[259, 259, 0, 0, 0]] * 2), torch.ones(2, 1, 4), 259)
    out = splice_pseudo_tokens(emb, ids, pseudo, 259)
    assert out[:, 1].eq(1).all() and out[:, [0, 2, 3, 4]].eq(0).all()
