"""MAI's text handling: BLIP caption cleaning, training clause sampling, history captions, rollback reference."""
from __future__ import annotations

import random
import re

MAX_WORDS = 50  # LAVIS `blip_caption` processor
ORDINALS = ("FIRST", "SECOND", "THIRD")
_CLAUSE = re.compile(r"(\d+)\.\s*([^\d]+)")
_DESCRIPTION = re.compile(r"\d+\.\s(.+?)(?=\d+\.\s|\Z)")  # the original's `concatenate_numbered_descriptions`


def pre_caption(text: str, max_words: int = MAX_WORDS) -> str:
    """LAVIS BlipCaptionProcessor: lower-case, `.!"()*#:;~` → space, collapse spaces, cut at `max_words` words."""
    text = re.sub(r"([.!\"()*#:;~])", " ", text.lower())
    text = re.sub(r"\s{2,}", " ", text).rstrip("\n").strip(" ")
    return " ".join(text.split(" ")[:max_words])


def numbered_clauses(modifier: str) -> list[str]:
    """The `N. clause` parts of a generated modifier, in order, without their numbers."""
    return [m.group(2).strip() for m in _CLAUSE.finditer(modifier) if m.group(2).strip()]


def select_caps_compose(modifier: str, rng: random.Random) -> str:
    """Training-time modifier sampling of the original (`select_caps_compose`).

    With ≥ 2 numbered clauses: a combination modifier (last clause "keep the ...") keeps one random
    other clause plus the keep clause; otherwise two random clauses; periods removed, joined with
    " and ". Else the raw text. Like the original, a rollback prefix before "1." is dropped.
    (The original tests for "4." because its LLM always wrote three differ clauses before the keep clause.)
    """
    clauses = numbered_clauses(modifier)
    if len(clauses) < 2:
        return modifier
    if clauses[-1].lower().startswith("keep"):
        chosen = [rng.choice(clauses[:-1]), clauses[-1]]
    else:
        chosen = rng.sample(clauses, 2)
    return " and ".join(c.replace(".", "").strip() for c in chosen)


def first_and_last_clauses(modifier: str) -> str:
    """Evaluation-time modifier of the original (`concatenate_numbered_descriptions`, every regime).

    The first and the last "N. " clause joined with " and " (one clause: itself); text before "1." (a rollback
    prefix) is dropped. A modifier without numbered clauses is kept whole, where the original returns "".
    """
    descriptions = _DESCRIPTION.findall(modifier)
    if not descriptions:
        return modifier
    if len(descriptions) >= 2:
        descriptions = [descriptions[0], descriptions[-1]]
    return " and ".join(descriptions).replace("  ", " ")


def history_captions(captions: list[str]) -> str:
    """Concatenated history captions of the combination turn: "FIRST: c0 SECOND: c1 [THIRD: c2]"."""
    if not 1 <= len(captions) <= len(ORDINALS):
        raise ValueError(f"history_captions: expected 1–{len(ORDINALS)} captions, got {len(captions)}")
    return " ".join(f"{o}: {c}" for o, c in zip(ORDINALS, captions))


def rollback_reference(modifier: str) -> int:
    """Which history image a rollback modifier returns to: 0 if it names FIRST, 1 if SECOND, else 2 (tar2)."""
    if "FIRST" in modifier:
        return 0
    if "SECOND" in modifier:
        return 1
    return 2
