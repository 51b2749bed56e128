"""GeneCIS: the four task JSONs over Visual-Genome-style scenes (instance boxes) and COCO-style scenes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import CATEGORIES, COLORS, PATTERNS, Garment, random_garment
from common.synthetic.captions import NOUNS, PATTERN_ADJ
from common.synthetic.formats.names import UniqueIds
from common.synthetic.io import save_image, write_json
from common.synthetic.render import render_scene

TEMPLATES, DISTRACTORS = 200, 9  # templates per task at scale 1 (one template = 0.5 R@1 points), gallery images per template
ALL = tuple(CATEGORIES)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _with(rng: np.random.Generator, attribute: str, value: str, exclude: str | None = None) -> Garment:
    """A random garment whose `attribute` is `value` (and whose category is not `exclude`)."""
    categories = tuple(c for c in ALL if c != exclude)
    return random_garment(rng, categories).with_changes(**{attribute: value})


class _Scenes:
    """Writes scene images; VG-style ones return an instance box, COCO-style ones an id only."""

    def __init__(self, root: Path, rng: np.random.Generator):
        self.root, self.rng, self.ids = root, rng, UniqueIds(rng)

    def instance(self, garment: Garment) -> dict:
        others = [random_garment(self.rng, ALL)]
        items = [garment] + others if self.rng.random() < 0.5 else others + [garment]
        image, boxes = render_scene(items, self.rng, width=112, height=80, item_size=52)
        image_id = self.ids.number(1, 2_500_000)
        save_image(image, self.root / "VG_100K_all" / f"{image_id}.jpg")
        return {"image_id": image_id, "instance_bbox": boxes[items.index(garment)]}

    def scene(self, categories: list[str]) -> dict:
        garments = [random_garment(self.rng, (str(c),)) for c in categories]
        image, _ = render_scene(garments, self.rng, width=128, height=96, item_size=42)
        image_id = self.ids.number(1, 600_000)
        save_image(image, self.root / "val2017" / f"{image_id:012d}.jpg")
        return {"val_image_id": image_id}


def _attribute_value(rng: np.random.Generator) -> tuple[str, tuple[str, ...]]:
    return ("color", tuple(COLORS)) if rng.random() < 0.6 else ("pattern", PATTERNS)


def focus_attribute(scenes: _Scenes, rng: np.random.Generator) -> dict:
    """Condition names an attribute; the target shares the reference's value of it, distractors do not."""
    attribute, values = _attribute_value(rng)
    reference = random_garment(rng, ALL)
    value = reference.get(attribute)
    target = _with(rng, attribute, value, exclude=reference.category)
    others = [v for v in values if v != value]
    gallery = [(random_garment(rng, (reference.category,)) if k % 2 == 0 else random_garment(rng, ALL))
               .with_changes(**{attribute: _pick(rng, others)}) for k in range(DISTRACTORS)]
    return {"reference": scenes.instance(reference), "target": scenes.instance(target), "condition": attribute,
            "gallery": [scenes.instance(g) for g in gallery]}


def change_attribute(scenes: _Scenes, rng: np.random.Generator) -> dict:
    """Condition names a new value; the target is the reference object with that value."""
    attribute, values = _attribute_value(rng)
    reference = random_garment(rng, ALL)
    value = _pick(rng, [v for v in values if v != reference.get(attribute)])
    target = reference.with_changes(**{attribute: value})
    others = [v for v in values if v != value]
    gallery = [reference.with_changes(**{attribute: _pick(rng, others)}) if k % 2 == 0
               else _with(rng, attribute, value, exclude=reference.category) for k in range(DISTRACTORS)]
    condition = value if attribute == "color" else PATTERN_ADJ[value]
    return {"reference": scenes.instance(reference), "target": scenes.instance(target), "condition": condition,
            "gallery": [scenes.instance(g) for g in gallery]}


def _categories(rng: np.random.Generator, n: int, exclude: list[str]) -> list[str]:
    options = [c for c in ALL if c not in exclude]
    return [options[int(i)] for i in rng.choice(len(options), n, replace=False)]


def focus_object(scenes: _Scenes, rng: np.random.Generator) -> dict:
    """Condition names an object of the reference scene; only the target also contains it."""
    reference = _categories(rng, 3, [])
    focus = reference[int(rng.integers(3))]
    target = [focus] + _categories(rng, 2, reference)
    rest = [c for c in reference if c != focus]
    gallery = [[rest[k % 2]] + _categories(rng, 2, reference) for k in range(DISTRACTORS)]
    return {"reference": scenes.scene(reference), "target": scenes.scene(list(rng.permutation(target))),
            "condition": NOUNS[focus], "gallery": [scenes.scene(g) for g in gallery]}


def change_object(scenes: _Scenes, rng: np.random.Generator) -> dict:
    """Condition names an object to add; the target holds the reference's objects plus it."""
    reference = _categories(rng, 2, [])
    added = _categories(rng, 1, reference)[0]
    target = reference + [added]
    gallery = []
    for k in range(DISTRACTORS):
        if k % 2 == 0:
            gallery.append(reference + _categories(rng, 1, reference + [added]))
        else:
            gallery.append([added] + _categories(rng, 2, reference + [added]))
    return {"reference": scenes.scene(reference), "target": scenes.scene(list(rng.permutation(target))),
            "condition": NOUNS[added], "gallery": [scenes.scene(list(rng.permutation(g))) for g in gallery]}


TASKS = {"focus_attribute": focus_attribute, "change_attribute": change_attribute,
         "focus_object": focus_object, "change_object": change_object}


def write_genecis(root: Path, rng: np.random.Generator, scale: int) -> None:
    """Writes the four task files and their images."""
    scenes = _Scenes(root, rng)
    for task, build in TASKS.items():
        write_json(root / f"{task}.json", [build(scenes, rng) for _ in range(TEMPLATES * scale)])
