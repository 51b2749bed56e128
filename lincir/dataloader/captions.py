"""The language-only training set: captions -> (original ids, masked ids, indicator), deterministic per (seed, epoch, index)."""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

from lincir.dataloader.smp import FALLBACK_PROMPT, clean_caption, extract_keywords, keyword_runs, load_spacy, \
    mask_keywords, to_placeholder_text


class CaptionDataset(Dataset):
    """Self-masking pairs over a caption list; spaCy keywords are computed once per distinct caption.

    With `precompute_limit` or fewer captions, all keywords are extracted up front with
    `nlp.pipe` (tens of times faster than one call per caption); larger corpora extract them lazily,
    per item, as the original does in its DataLoader workers.
    """

    def __init__(self, captions: Sequence[str], tokenize: Callable[[list[str]], torch.Tensor],
                 placeholder_id: int, seed: int = 0, context_length: int = 77, precompute_limit: int = 200_000):
        if len(captions) == 0:
            raise ValueError("CaptionDataset: the caption corpus is empty")
        self.captions = list(captions)
        self.tokenize = tokenize
        self.placeholder_id = placeholder_id
        self.seed = seed
        self.epoch = 0
        self.context_length = context_length
        self._keywords: dict[str, list[str]] = {}
        self._fallback_ids = tokenize([to_placeholder_text(FALLBACK_PROMPT)])[0]
        if len(self.captions) <= precompute_limit:  # a web-scale corpus is not even truncated up front
            distinct = list(dict.fromkeys(self._truncate(clean_caption(c)) for c in self.captions))
            docs = load_spacy().pipe(distinct, batch_size=512)
            self._keywords = {text: keyword_runs(doc) for text, doc in zip(distinct, docs)}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.captions)

    def _truncate(self, text: str) -> str:
        """Drop trailing words until the caption fits the context with padding left (the original keeps 75 BPE tokens)."""
        words = text.split()
        while len(words) > 1 and int(self.tokenize([" ".join(words)])[0][-1]) != 0:
            words = words[:-1]
        return " ".join(words)

    def keywords(self, text: str) -> list[str]:
        if text not in self._keywords:
            self._keywords[text] = extract_keywords(text, load_spacy())
        return self._keywords[text]

    def __getitem__(self, idx: int):
        text = self._truncate(clean_caption(self.captions[idx]))
        rng = random.Random(hash((self.seed, self.epoch, idx)))
        masked = to_placeholder_text(mask_keywords(text, self.keywords(text), rng))
        ids = self.tokenize([text, masked])
        if bool((ids[1] == self.placeholder_id).any()):
            return ids[0], ids[1], 1
        return ids[0], self._fallback_ids.clone(), 0


def read_captions(sources: Sequence[str], cache_dir: str | None = None) -> list[str]:
    """Captions from corpus folders, single caption files (txt/jsonl/csv/parquet) or cached HF dataset names."""
    from pathlib import Path

    from common.data.corpus import CaptionCorpus, load_hf_captions

    captions: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            captions += CaptionCorpus(path).queries
        elif path.is_file():
            captions += CaptionCorpus(path.parent, files=[path.name]).queries
        else:
            captions += load_hf_captions(source, cache_dir=cache_dir)
    return captions
