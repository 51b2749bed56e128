"""FashionIQ reader (captions/, image_splits/, images/) and the FashionIQ caption-joining rules.

Layout (``root`` is the ``fashion-iq/`` folder)::

    captions/cap.{dress,shirt,toptee}.{train,val,test}.json    [{"candidate", "target", "captions": [c1, c2]}]
    image_splits/split.{dress,shirt,toptee}.{train,val,test}.json   [asin, ...]
    images/{asin}.png  or  images/{asin}.jpg  or  {dress,shirt,toptee}/{asin}.jpg   (FTI4CIR)

Decisions: the test captions have no ``target`` (the record's ``target`` is None); ``captions`` must hold exactly
two strings; an image is looked up as ``images/{asin}.png``, then ``images/{asin}.jpg``, then
``{category}/{asin}.jpg`` and, when none exists, ``images/{asin}.png`` is reported as its path.
Protocols: ``fiq.original`` = the image_splits list of the split; ``fiq.val_union`` = FashionERN's "VAL setting",
the union of target and candidate of the caption file in first-seen order, target before candidate per triplet.
With several categories loaded, a gallery concatenates the categories (repeats removed) unless ``category`` is given.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.data.base import BenchmarkReader, ImageRecord
from common.data.errors import DataFormatError
from common.data.parsing import (check_choice, expect_list, get_field, get_str_list, load_json, require_dirs,
                                 type_name, unique)

CATEGORIES = ("dress", "shirt", "toptee")
SPLITS = ("train", "val", "test")
MODES = ("relative", "classic")


@dataclass(frozen=True)
class FashionIQTriplet:
    """One relative-caption query; ``candidate`` is the reference image, ``target`` is None on the test split."""

    candidate: str
    target: str | None
    captions: tuple[str, str]
    category: str

    @property
    def reference(self) -> str:
        return self.candidate


class _UniformSource(Protocol):
    def random(self) -> float: ...


def _clean(caption: str) -> str:
    return caption.strip(".?, ")


def fiq_caption(c1: str, c2: str, mode: str = "eval", rng: _UniformSource | None = None) -> str | tuple[str, str]:
    """Join the two FashionIQ captions of a triplet as CLIP4Cir/FashionERN/SEARLE do.

    ``C = c.strip('.?, ').capitalize()`` (Python's capitalize, which lower-cases the rest) and
    ``c = c.strip('.?, ')``.

    - ``"eval"``: ``"{C1} and {c2}"``.
    - ``"both"``: ``("{C1} and {c2}", "{C2} and {c1}")``, the two orders SEARLE averages.
    - ``"train"``: draw ``u = rng.random()`` (``random`` module when ``rng`` is None);
      ``u < 0.25`` -> ``"{C1} and {c2}"``; ``0.25 < u < 0.5`` -> ``"{C2} and {c1}"``; ``0.5 < u < 0.75`` -> ``"{C1}"``;
      otherwise ``"{C2}"`` (so ``u`` exactly 0.25 or 0.5 falls to ``"{C2}"``, as in the original strict comparisons).
    """
    first, second = _clean(c1), _clean(c2)
    if mode == "eval":
        return f"{first.capitalize()} and {second}"
    if mode == "both":
        return f"{first.capitalize()} and {second}", f"{second.capitalize()} and {first}"
    if mode == "train":
        u = (rng if rng is not None else random).random()
        branch = 0 if u < 0.25 else 1 if 0.25 < u < 0.5 else 2 if 0.5 < u < 0.75 else 3
        return fiq_train_variants(c1, c2)[branch]
    raise ValueError(f"fiq_caption: mode must be 'train', 'eval' or 'both', got {mode!r}")


def fiq_train_variants(c1: str, c2: str) -> tuple[str, str, str, str]:
    """The four texts `fiq_caption(c1, c2, "train")` chooses from, in branch order:
    ``("{C1} and {c2}", "{C2} and {c1}", "{C1}", "{C2}")``."""
    first, second = _clean(c1), _clean(c2)
    return f"{first.capitalize()} and {second}", f"{second.capitalize()} and {first}", first.capitalize(), second.capitalize()


class FashionIQ(BenchmarkReader):
    """FashionIQ triplets and galleries for one split and one or more categories.

    ``mode="relative"``: ``.queries`` are :class:`FashionIQTriplet`; ``mode="classic"``: ``.queries`` are
    :class:`ImageRecord` over the image_splits lists (both files are parsed in either mode).
    """

    dataset = "fashion-iq"
    protocols = ("fiq.original", "fiq.val_union")

    def __init__(self, root: str | Path, split: str, categories: str | Sequence[str] = CATEGORIES,
                 mode: str = "relative", check_images: bool = False):
        super().__init__(root, split)
        require_dirs(self.root, ("captions", "image_splits"), "FashionIQ", "fashion-iq")
        check_choice(split, SPLITS, self.root, "split")
        check_choice(mode, MODES, self.root, "mode")
        self.categories = (categories,) if isinstance(categories, str) else tuple(categories)
        if not self.categories:
            raise DataFormatError(self.root, "categories", "no category given")
        for category in self.categories:
            check_choice(category, CATEGORIES, self.root, "category")
        self.mode = mode
        self.triplets: list[FashionIQTriplet] = []
        self.split_images: dict[str, list[str]] = {}
        self._category_of: dict[str, str] = {}
        self._paths: dict[str, Path] = {}
        for category in self.categories:
            self.triplets.extend(self._read_captions(category))
            self.split_images[category] = self._read_split(category)
        for triplet in self.triplets:
            self._category_of.setdefault(triplet.candidate, triplet.category)
            if triplet.target is not None:
                self._category_of.setdefault(triplet.target, triplet.category)
        for category, names in self.split_images.items():
            for name in names:
                self._category_of.setdefault(name, category)
        self.queries = (list(self.triplets) if mode == "relative" else
                        [ImageRecord(name, category) for category in self.categories
                         for name in self.split_images[category]])
        if check_images:
            self.check_images()

    def _read_captions(self, category: str) -> list[FashionIQTriplet]:
        path = self.root / "captions" / f"cap.{category}.{self.split}.json"
        entries = expect_list(load_json(path), path)
        triplets = []
        for i, entry in enumerate(entries):
            where = f"[{i}]"
            candidate = get_field(entry, "candidate", str, path, where)
            target = get_field(entry, "target", str, path, where, optional=self.split == "test")
            captions = get_str_list(entry, "captions", path, where, length=2)
            triplets.append(FashionIQTriplet(candidate, target, (captions[0], captions[1]), category))
        return triplets

    def _read_split(self, category: str) -> list[str]:
        path = self.root / "image_splits" / f"split.{category}.{self.split}.json"
        names = expect_list(load_json(path), path)
        for i, name in enumerate(names):
            if not isinstance(name, str):
                raise DataFormatError(path, f"[{i}]", f"expected an image name (str), got {type_name(name)}")
        return names

    def _check_category(self, category: str | None) -> tuple[str, ...]:
        if category is None:
            return self.categories
        check_choice(category, self.categories, self.root, "category")
        return (category,)

    def gallery(self, protocol: str | None = None, category: str | None = None) -> list[str]:
        protocol = self.resolve_protocol(protocol)
        categories = self._check_category(category)
        if protocol == "fiq.original":
            return unique(name for c in categories for name in self.split_images[c])
        names: list[str] = []
        for triplet in self.triplets:
            if triplet.category in categories:
                if triplet.target is not None:
                    names.append(triplet.target)
                names.append(triplet.candidate)
        return unique(names)

    def triplets_of(self, category: str) -> list[FashionIQTriplet]:
        """The relative-caption queries of one category (evaluation is per category)."""
        check_choice(category, self.categories, self.root, "category")
        return [t for t in self.triplets if t.category == category]

    def image_path(self, name: str) -> Path:
        if name not in self._paths:
            categories = ((self._category_of[name],) if name in self._category_of else CATEGORIES)
            candidates = [self.root / "images" / f"{name}.png", self.root / "images" / f"{name}.jpg"]
            candidates += [self.root / c / f"{name}.jpg" for c in categories]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                return candidates[0]
            self._paths[name] = found
        return self._paths[name]

    def _query_images(self) -> list[str]:
        names: list[str] = []
        for triplet in self.triplets:
            names.append(triplet.candidate)
            if triplet.target is not None:
                names.append(triplet.target)
        return names
