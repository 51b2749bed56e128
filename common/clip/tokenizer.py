"""Offline CLIP BPE tokenizer: an HF `CLIPTokenizer` built from the vocabulary file shipped in open_clip."""
from __future__ import annotations

import functools
import gzip
import html

import ftfy
import torch
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from transformers import CLIPTokenizer

# The CLIP BPE file holds 49152 - 256 - 2 merges after its header line (same recipe as open_clip/OpenAI clip).
_NUM_MERGES = 49152 - 256 - 2
PAD_ID = 0  # open_clip and OpenAI clip pad with 0, so argmax over ids finds the EOT token.


@functools.lru_cache(maxsize=1)
def build_hf_clip_tokenizer() -> CLIPTokenizer:
    """The CLIP tokenizer (49408 ids, EOT = 49407 = max id) built offline; never touches the HF hub."""
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:_NUM_MERGES + 1]]
    byte_symbols = list(bytes_to_unicode().values())
    symbols = byte_symbols + [s + "</w>" for s in byte_symbols] + ["".join(m) for m in merges]
    symbols += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=merges)


def clean_text(text: str) -> str:
    """The text clean-up open_clip and OpenAI clip apply before BPE (ftfy, double HTML unescape)."""
    return html.unescape(html.unescape(ftfy.fix_text(text))).strip()


def tokenize(texts: str | list[str], context_length: int = 77) -> torch.Tensor:
    """[B, context_length] ids identical to open_clip's: SOT ... EOT, truncated with EOT kept last, zero padded."""
    if isinstance(texts, str):
        texts = [texts]
    tokenizer = build_hf_clip_tokenizer()
    rows = tokenizer([clean_text(t) for t in texts], truncation=True, max_length=context_length)["input_ids"]
    ids = torch.full((len(rows), context_length), PAD_ID, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return ids


def single_token_id(token: str) -> int:
    """BPE id of a string that encodes to exactly one token ("$" -> 259, "*" -> 265)."""
    ids = build_hf_clip_tokenizer()(clean_text(token))["input_ids"][1:-1]
    if len(ids) != 1:
        raise ValueError(f"placeholder {token!r} is not a single BPE token (it encodes to {len(ids)} tokens)")
    return ids[0]
