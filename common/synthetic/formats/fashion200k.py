"""Fashion200k: labels/{category}_{split}_detect_all.txt, test_queries.txt, women/<cat>/<subcat>/<id>/<id>_<k>.jpeg."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import Garment, neighbour, random_garment, text_match_distractor
from common.synthetic.captions import words_caption
from common.synthetic.formats.names import UniqueIds
from common.synthetic.io import ImageStore, write_lines

# garment category -> (label-file category, image folder)
CATEGORIES = {"dress": ("dress", "dresses"), "jacket": ("jacket", "jackets"), "pants": ("pants", "pants"),
              "skirt": ("skirt", "skirts"), "toptee": ("top", "tops")}
TRAIN_PRODUCTS, TEST_QUERIES = 120, 30  # per category at scale 1


def write_fashion200k(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes train/test label files and the test queries; returns image path -> garment."""
    store, ids = ImageStore(root, rng), UniqueIds(rng)
    labels: dict[tuple[str, str], list[str]] = {}
    queries: list[str] = []

    def add_product(garment: Garment, split: str) -> list[str]:
        label, folder = CATEGORIES[garment.category]
        product = ids.number(10_000_000, 100_000_000)
        subfolder = f"{garment.get('pattern')}_{folder}"
        paths = []
        for k in range(1 + int(rng.random() < 0.4)):
            path = f"women/{folder}/{subfolder}/{product}/{product}_{k}.jpeg"
            store.add(path, path, garment)
            labels.setdefault((label, split), []).append(
                f"{path}\t{rng.uniform(0.5, 1.0):.4f}\t{words_caption(garment)}")
            paths.append(path)
        return paths

    for category in CATEGORIES:
        for _ in range(TRAIN_PRODUCTS * scale):
            add_product(random_garment(rng, (category,)), "train")
        for _ in range(TEST_QUERIES * scale):
            reference = random_garment(rng, (category,))
            target = neighbour(reference, rng, 1)
            source_path = add_product(reference, "test")[0]
            target_path = add_product(target, "test")[0]
            queries.append(f"{source_path} {target_path}")
            distractor = text_match_distractor(reference, target, rng)
            if distractor is not None:
                add_product(distractor, "test")
    for (label, split), lines in sorted(labels.items()):
        write_lines(root / "labels" / f"{label}_{split}_detect_all.txt", lines)
    write_lines(root / "test_queries.txt", queries)
    return store.garments
