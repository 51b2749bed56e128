"""The Q-Former's BERT tokenizer built offline from a local `vocab.txt` (plus BLIP-2's `[DEC]` bos token)."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from transformers import BertTokenizer
from transformers.models.bert.tokenization_bert import load_vocab

from common.checkpoint import atomic_write

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_WORD = re.compile(r"\w+|[^\w\s]")


def load_tokenizer(vocab_file: str | os.PathLike) -> BertTokenizer:
    """BERT tokenizer (lower-case, right truncation) from `vocab_file`, with `[DEC]` added as in LAVIS.

    transformers 5 ignores `BertTokenizer(vocab_file=...)` and silently keeps only the special tokens,
    so the vocabulary is read here and passed as a dict.
    """
    path = Path(vocab_file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: vocab file not found (for BLIP-2 weights use bert-base-uncased's vocab.txt)")
    vocab = load_vocab(str(path))
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"{path}: vocab: missing special tokens {missing}")
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, truncation_side="right")
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    return tokenizer


def build_word_vocab(texts: Iterable[str], path: str | os.PathLike) -> Path:
    """Write a word-level BERT vocab (special tokens, then every lower-cased word/punctuation, sorted)."""
    words = sorted({w for text in texts for w in _WORD.findall(text.lower())} - set(SPECIAL_TOKENS))
    text = "\n".join([*SPECIAL_TOKENS, *words]) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def extend_word_vocab(base_vocab: str | os.PathLike, texts: Iterable[str], path: str | os.PathLike) -> Path:
    """`base_vocab`'s lines unchanged (so pretrained ids keep their rows), then the new words of `texts`, sorted."""
    base = Path(base_vocab).read_text(encoding="utf-8").splitlines()
    known = set(base)
    new = sorted({w for text in texts for w in _WORD.findall(text.lower())} - known)
    text = "\n".join([*base, *new]) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
