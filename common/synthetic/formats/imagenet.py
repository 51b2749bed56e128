"""ImageNet-style images with BLIP-style subject/attribute caption pairs (FTI4CIR's blip_pairs.json)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import CATEGORIES, Garment, random_garment
from common.synthetic.captions import NECK_PHRASE, NOUNS, PATTERN_NOUN
from common.synthetic.io import ImageStore, write_json

IMAGES = 300  # at scale 1


def subject_attribute(g: Garment, rng: np.random.Generator) -> tuple[str, str]:
    """Split as FTI4CIR does: subject = the words up to the first noun, attribute = the rest."""
    details = [f"in {g.get('color')}"]
    if g.get("pattern") != "solid":
        details.append(f"with {PATTERN_NOUN[g.get('pattern')]}")
    if g.get("sleeve"):
        details.append("without sleeves" if g.get("sleeve") == "sleeveless" else f"with {g.get('sleeve')} sleeves")
    if g.get("neckline"):
        details.append(f"with {NECK_PHRASE[g.get('neckline')]}")
    if g.get("length"):
        details.append(f"of {g.get('length')} length")
    order = [details[0]] + [details[1:][int(i)] for i in rng.permutation(len(details) - 1)]
    attribute = order[0] if len(order) == 1 else ", ".join(order[:-1]) + " and " + order[-1]
    return f"a {NOUNS[g.category]}", f"{attribute} on a plain background"


def write_imagenet(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes test/ILSVRC2012_test_{id}.JPEG and blip_pairs.json; returns img_id -> garment."""
    store = ImageStore(root, rng)
    pairs = []
    for index in range(1, IMAGES * scale + 1):
        garment = random_garment(rng, tuple(CATEGORIES))
        image_id = f"{index:08d}"
        store.add(image_id, f"test/ILSVRC2012_test_{image_id}.JPEG", garment)
        subject, attribute = subject_attribute(garment, rng)
        pairs.append({"img_id": image_id, "subject": subject, "attribute": attribute})
    write_json(root / "blip_pairs.json", pairs)
    return store.garments
