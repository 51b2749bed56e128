"""Caption text corpora: a CC3M-like captions.txt and a prompt-like prompts.jsonl ({"text": ...} per line)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.synthetic.attributes import CATEGORIES, random_garment
from common.synthetic.captions import varied_caption
from common.synthetic.io import write_lines

CAPTIONS, PROMPTS = 2000, 1000  # at scale 1
STYLES = ("studio lighting", "product photo", "high detail", "flat lay", "catalog shot", "soft shadows")


def write_corpus(root: Path, rng: np.random.Generator, scale: int) -> None:
    categories = tuple(CATEGORIES)
    write_lines(root / "captions.txt", [varied_caption(random_garment(rng, categories), rng)
                                        for _ in range(CAPTIONS * scale)])
    prompts = []
    for _ in range(PROMPTS * scale):
        caption = varied_caption(random_garment(rng, categories), rng)
        style = ", ".join(STYLES[int(i)] for i in rng.choice(len(STYLES), 2, replace=False))
        prompts.append(json.dumps({"text": f"{caption}, {style}"}, sort_keys=True))
    write_lines(root / "prompts.jsonl", prompts)
