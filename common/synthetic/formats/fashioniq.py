"""FashionIQ: captions/cap.{cat}.{split}.json, image_splits/split.{cat}.{split}.json, images/{asin}.png."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import Garment, neighbour, random_garment, text_match_distractor
from common.synthetic.captions import relative_caption_pair
from common.synthetic.formats.names import UniqueIds
from common.synthetic.io import ImageStore, write_json

CATEGORIES = ("dress", "shirt", "toptee")
SPLITS = {"train": 200, "val": 80, "test": 40}  # queries per category at scale 1


def write_fashioniq(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes the three categories; returns asin -> garment for every image written."""
    store, ids = ImageStore(root, rng), UniqueIds(rng)

    def add(garment: Garment) -> str:
        asin = ids.asin()
        return store.add(asin, f"images/{asin}.png", garment)

    for category in CATEGORIES:
        for split, per_scale in SPLITS.items():
            split_names: dict[str, None] = {}
            records, pool = [], []
            for _ in range(per_scale * scale):
                if pool and rng.random() < 0.3:
                    reference_name = pool[int(rng.integers(len(pool)))]
                    reference = store.garments[reference_name]
                else:
                    reference = random_garment(rng, (category,))
                    reference_name = add(reference)
                    pool.append(reference_name)
                target = neighbour(reference, rng, n_changes=1 + int(rng.random() < 0.5))
                target_name = add(target)
                split_names.update({reference_name: None, target_name: None})
                if split != "train":
                    near = neighbour(reference, rng, 1)
                    text_like = text_match_distractor(reference, target, rng)
                    for distractor in (near, text_like):
                        if distractor is not None and distractor != target:
                            split_names[add(distractor)] = None
                record = {"candidate": reference_name, "target": target_name,
                          "captions": relative_caption_pair(reference, target, rng)}
                if split == "test":
                    del record["target"]
                records.append(record)
            write_json(root / "captions" / f"cap.{category}.{split}.json", records)
            write_json(root / "image_splits" / f"split.{category}.{split}.json", list(split_names))
    return store.garments
