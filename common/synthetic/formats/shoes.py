"""Shoes: split.{train,val}.json (image paths) and triplet.{train,val}.json (relative captions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import Garment, SHOES, neighbour, random_garment, text_match_distractor
from common.synthetic.captions import relative_caption
from common.synthetic.io import ImageStore, write_json

TYPE_FOLDERS = {"sneaker": "womens_athletic_shoes", "boot": "boots", "heel": "high_heels", "flat": "flats"}
SPLITS = {"train": 200, "val": 80}  # triplets at scale 1


def write_shoes(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes both splits; returns image path (relative to root) -> garment."""
    store = ImageStore(root, rng, size=64)
    counters = {category: 0 for category in TYPE_FOLDERS}

    def add(garment: Garment) -> str:
        folder = TYPE_FOLDERS[garment.category]
        counters[garment.category] += 1
        relpath = f"women/{folder}/0/img_{folder}_{counters[garment.category]}.jpg"
        return store.add(relpath, relpath, garment)

    for split, per_scale in SPLITS.items():
        split_paths: dict[str, None] = {}
        triplets, pool = [], []
        for _ in range(per_scale * scale):
            if pool and rng.random() < 0.3:
                reference_path = pool[int(rng.integers(len(pool)))]
                reference = store.garments[reference_path]
            else:
                reference = random_garment(rng, SHOES)
                reference_path = add(reference)
                pool.append(reference_path)
            target = neighbour(reference, rng, 1 + int(rng.random() < 0.5), categories=SHOES)
            target_path = add(target)
            split_paths.update({reference_path: None, target_path: None})
            if split == "val":
                for distractor in (neighbour(reference, rng, 1, categories=SHOES),
                                   text_match_distractor(reference, target, rng)):
                    if distractor is not None and distractor != target:
                        split_paths[add(distractor)] = None
            triplets.append({"ReferenceImageName": reference_path, "ImageName": target_path,
                             "RelativeCaption": relative_caption(reference, target, rng)})
        write_json(root / f"split.{split}.json", list(split_paths))
        write_json(root / f"triplet.{split}.json", triplets)
    return store.garments
