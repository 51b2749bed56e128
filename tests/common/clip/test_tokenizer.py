"""The offline HF tokenizer gives open_clip's ids, padding and truncation."""
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer

from common.clip import build_hf_clip_tokenizer, tokenize
from common.clip.tokenizer import single_token_id

SENTENCES = [
    "a photo of a red dog",
    "A Photo of $ that is   RED, and *! it's the man's 2nd café &amp; bar",
    "is black with short sleeves and has a V-neck",
    "",
    "word " * 120,  # longer than the context: truncated with EOT kept last
]


def test_ids_equal_open_clip():
    assert torch.equal(tokenize(SENTENCES), SimpleTokenizer()(SENTENCES))


def test_known_ids_padding_and_short_context():
    ids = tokenize("a photo of a red dog", context_length=12)
    assert ids.tolist() == [[49406, 320, 1125, 539, 320, 736, 1929, 49407, 0, 0, 0, 0]]
    long = tokenize(["word " * 120], context_length=12)[0]
    assert long[-1] == 49407 and long.argmax() == 11


def test_vocabulary_size_and_placeholders():
    tokenizer = build_hf_clip_tokenizer()
    assert len(tokenizer) == 49408 and tokenizer.eos_token_id == 49407 and tokenizer.bos_token_id == 49406
    assert single_token_id("$") == 259 and single_token_id("*") == 265
    with pytest.raises(ValueError, match="not a single BPE token"):
        single_token_id("red dress")
