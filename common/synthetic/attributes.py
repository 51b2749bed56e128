"""Garment attribute vocabulary, random garments and their near neighbours."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (205, 30, 35), "orange": (240, 125, 20), "yellow": (235, 205, 35), "green": (35, 145, 55),
    "blue": (35, 65, 205), "purple": (120, 45, 165), "pink": (245, 125, 185), "brown": (120, 70, 35),
    "black": (22, 22, 22), "white": (248, 248, 248),
}
PATTERNS = ("solid", "striped", "dotted", "checked")
SLEEVES = ("sleeveless", "short", "long")
NECKLINES = ("round", "v-neck")
LENGTHS = ("short", "long")
VALUES: dict[str, tuple[str, ...]] = {
    "color": tuple(COLORS), "pattern": PATTERNS, "sleeve": SLEEVES, "neckline": NECKLINES, "length": LENGTHS,
}

# category -> the attributes that category has, in caption order
CATEGORIES: dict[str, tuple[str, ...]] = {
    "dress": ("color", "pattern", "sleeve", "neckline", "length"),
    "shirt": ("color", "pattern", "sleeve"),
    "toptee": ("color", "pattern", "sleeve", "neckline"),
    "jacket": ("color", "pattern", "sleeve"),
    "pants": ("color", "pattern", "length"),
    "skirt": ("color", "pattern", "length"),
    "sneaker": ("color", "pattern"),
    "boot": ("color", "pattern"),
    "heel": ("color", "pattern"),
    "flat": ("color", "pattern"),
}
CLOTHES = ("dress", "shirt", "toptee", "jacket", "pants", "skirt")
SHOES = ("sneaker", "boot", "heel", "flat")


@dataclass(frozen=True)
class Garment:
    """One attribute combination; many images may render the same garment."""

    category: str
    attrs: tuple[tuple[str, str], ...]  # (name, value) in CATEGORIES order

    def get(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    @property
    def key(self) -> str:
        return "|".join([self.category] + [v for _, v in self.attrs])

    def with_changes(self, category: str | None = None, **changes: str) -> "Garment":
        """The garment with some attributes replaced (a new category keeps the attributes it shares)."""
        category = category or self.category
        current = dict(self.attrs)
        current.update(changes)
        return Garment(category, tuple((name, current[name]) for name in CATEGORIES[category]))


def random_garment(rng: np.random.Generator, categories: tuple[str, ...] = CLOTHES) -> Garment:
    """A uniformly random garment of one of `categories`."""
    category = categories[rng.integers(len(categories))]
    return Garment(category, tuple((name, VALUES[name][rng.integers(len(VALUES[name]))])
                                   for name in CATEGORIES[category]))


def differences(reference: Garment, target: Garment) -> dict[str, tuple[str | None, str]]:
    """Attribute name (or "category") -> (reference value, target value) for what differs."""
    diff: dict[str, tuple[str | None, str]] = {}
    if reference.category != target.category:
        diff["category"] = (reference.category, target.category)
    for name, value in target.attrs:
        if reference.get(name) != value:
            diff[name] = (reference.get(name), value)
    return diff


def neighbour(garment: Garment, rng: np.random.Generator, n_changes: int = 1,
              categories: tuple[str, ...] | None = None) -> Garment:
    """A garment differing from `garment` in exactly `n_changes` attributes (category counts as one
    when `categories` offers others)."""
    names = [name for name, _ in garment.attrs]
    others = [c for c in (categories or ()) if c != garment.category]
    options = names + (["category"] if others else [])
    chosen = rng.choice(len(options), size=min(n_changes, len(options)), replace=False)
    changes: dict[str, str] = {}
    category = garment.category
    for index in sorted(int(i) for i in chosen):
        name = options[index]
        if name == "category":
            category = others[rng.integers(len(others))]
            continue
        choices = [v for v in VALUES[name] if v != garment.get(name)]
        changes[name] = choices[rng.integers(len(choices))]
    for name in CATEGORIES[category]:
        if garment.get(name) is None and name not in changes:
            changes[name] = VALUES[name][rng.integers(len(VALUES[name]))]
    return garment.with_changes(category, **changes)


def text_match_distractor(reference: Garment, target: Garment, rng: np.random.Generator) -> Garment | None:
    """The target with one attribute the caption does not mention changed: matches the text, not the image."""
    unchanged = [name for name, _ in target.attrs if name not in differences(reference, target)]
    if not unchanged:
        return None
    name = unchanged[int(rng.integers(len(unchanged)))]
    options = [v for v in VALUES[name] if v != target.get(name)]
    return target.with_changes(**{name: options[int(rng.integers(len(options)))]})
