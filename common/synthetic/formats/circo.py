"""CIRCO: annotations/{val,test}.json with several ground truths per query over a COCO-unlabeled-style gallery."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import CLOTHES, Garment, SHOES, neighbour, random_garment, text_match_distractor
from common.synthetic.captions import NOUNS, relative_caption
from common.synthetic.formats.names import UniqueIds
from common.synthetic.io import ImageStore, write_json

QUERIES = {"val": 60, "test": 60}  # at scale 1
RANDOM_DISTRACTORS = 200
SIZE = 64


def shared_concept(reference: Garment, target: Garment) -> str:
    if reference.category == target.category:
        return f"a {NOUNS[target.category]}"
    return "a shoe" if target.category in SHOES else "a piece of clothing"


def write_circo(root: Path, rng: np.random.Generator, scale: int) -> dict[str, Garment]:
    """Writes the COCO image info, the images and both annotation files; returns image id -> garment."""
    store, ids = ImageStore(root, rng, SIZE), UniqueIds(rng)
    kinds = {category: (CLOTHES if category in CLOTHES else SHOES) for category in CLOTHES + SHOES}

    def add(garment: Garment) -> int:
        image_id = ids.number(1, 600_000)
        store.add(str(image_id), f"COCO2017_unlabeled/unlabeled2017/{image_id:012d}.jpg", garment)
        return image_id

    drafts: dict[str, list[tuple[int, int, Garment, str, str]]] = {}
    for split, per_scale in QUERIES.items():
        for _ in range(per_scale * scale):
            reference = random_garment(rng, CLOTHES + SHOES)
            target = neighbour(reference, rng, 1 + int(rng.random() < 0.4), categories=kinds[reference.category])
            reference_id = add(reference)
            target_ids = [add(target) for _ in range(1 + int(rng.integers(4)))]
            for distractor in (neighbour(reference, rng, 1), text_match_distractor(reference, target, rng)):
                if distractor is not None and distractor != target:
                    add(distractor)
            drafts.setdefault(split, []).append((reference_id, target_ids[0], target,
                                                 relative_caption(reference, target, rng),
                                                 shared_concept(reference, target)))
    for _ in range(RANDOM_DISTRACTORS * scale):
        add(random_garment(rng, CLOTHES + SHOES))

    by_garment: dict[Garment, list[int]] = {}
    for name, garment in store.garments.items():
        by_garment.setdefault(garment, []).append(int(name))
    query_id = 0
    for split, rows in drafts.items():
        annotations = []
        for reference_id, target_id, target, caption, concept in rows:
            entry = {"id": query_id, "reference_img_id": reference_id, "relative_caption": caption,
                     "shared_concept": concept}
            if split == "val":
                entry["target_img_id"] = target_id
                entry["gt_img_ids"] = [target_id] + [i for i in by_garment[target] if i != target_id]
            annotations.append(entry)
            query_id += 1
        write_json(root / "annotations" / f"{split}.json", annotations)
    order = [int(name) for name in store.garments]
    order = [order[i] for i in rng.permutation(len(order))]
    write_json(root / "COCO2017_unlabeled" / "annotations" / "image_info_unlabeled2017.json", {
        "info": {"description": "synthetic stand-in for COCO 2017 unlabeled images", "version": "1.0"},
        "licenses": [],
        "images": [{"id": i, "file_name": f"{i:012d}.jpg", "height": SIZE, "width": SIZE, "license": 0}
                   for i in order]})
    return store.garments
