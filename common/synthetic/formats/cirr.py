"""CIRR (rc2): cirr/captions/cap.rc2.{split}.json, cirr/image_splits/split.rc2.{split}.json, 6-image groups."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import CLOTHES, SHOES, Garment, neighbour, random_garment
from common.synthetic.captions import relative_caption
from common.synthetic.io import ImageStore, write_json

SPLITS = {"train": ("train", 120), "val": ("dev", 50), "test1": ("test1", 50)}  # split -> (prefix, groups)
GROUP_SIZE = 6


def near_neighbour_group(rng: np.random.Generator) -> list[Garment]:
    """A base garment and 5 distinct garments that each differ from it in one attribute."""
    kind = CLOTHES if rng.random() < 0.7 else SHOES
    base = random_garment(rng, kind)
    group = [base]
    while len(group) < GROUP_SIZE:
        candidate = neighbour(base, rng, 1, categories=kind)
        if candidate not in group:
            group.append(candidate)
    return [group[i] for i in rng.permutation(GROUP_SIZE)]


def write_cirr(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes train/dev/test1 groups and their captions; returns image name -> garment."""
    store = ImageStore(root, rng)
    pairid = 0
    for split, (prefix, per_scale) in SPLITS.items():
        relpaths: dict[str, str] = {}
        records = []
        for group_id in range(per_scale * scale):
            members = []
            for m, garment in enumerate(near_neighbour_group(rng)):
                name = f"{prefix}-{group_id}-{m}-img{m % 2}"
                folder = f"./train/{group_id % 10}" if prefix == "train" else f"./{prefix}"
                relpaths[name] = f"{folder}/{name}.png"
                members.append(store.add(name, relpaths[name], garment))
            for _ in range(2 + int(rng.integers(2))):
                ref, tgt = (int(i) for i in rng.choice(GROUP_SIZE, 2, replace=False))
                record = {"pairid": pairid, "reference": members[ref], "target_hard": members[tgt],
                          "target_soft": {members[tgt]: 1.0},
                          "caption": relative_caption(store.garments[members[ref]], store.garments[members[tgt]], rng),
                          "img_set": {"id": group_id, "members": members, "reference_rank": ref, "target_rank": tgt}}
                if split == "test1":
                    del record["target_hard"], record["target_soft"], record["img_set"]["target_rank"]
                records.append(record)
                pairid += 1
        write_json(root / "cirr" / "captions" / f"cap.rc2.{split}.json", records)
        write_json(root / "cirr" / "image_splits" / f"split.rc2.{split}.json", relpaths)
    return store.garments
