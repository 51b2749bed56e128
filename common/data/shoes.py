"""Shoes reader (relative captions of Guo et al. 2018 in the FashionERN/SPIRIT layout).

Layout (``root`` is the ``shoes/`` folder)::

    split.{train,val}.json      [image path relative to root, ...]        (the gallery of the split)
    triplet.{train,val}.json    [{"ReferenceImageName", "ImageName", "RelativeCaption"}, ...]

Paths are joined to the root (the original concatenates strings; a leading ``/`` is ignored here). An image's
*name* is its basename with ``.jpg`` removed, as in the original; names must be unique within the files read.
``val`` is the test set (protocol ``shoes.val``: gallery = ``split.val.json``, reference not removed). Captions
are kept raw (FashionERN uses them as-is; SPIRIT training cleans them in its own loader).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError
from common.data.parsing import check_choice, expect_list, get_field, load_json, require_files, type_name

SPLITS = ("train", "val")


@dataclass(frozen=True)
class ShoesTriplet:
    reference: str
    target: str
    caption: str


def shoes_name(relpath: str) -> str:
    """The original's image key: basename with ``.jpg`` removed."""
    return relpath.split("/")[-1].split(".jpg")[0]


class Shoes(BenchmarkReader):
    """Shoes triplets and gallery of one split."""

    dataset = "shoes"
    protocols = ("shoes.val",)

    def __init__(self, root: str | Path, split: str, check_images: bool = False):
        super().__init__(root, split)
        require_files(self.root, (f"split.{s}.json" for s in SPLITS), "Shoes", "shoes")
        check_choice(split, SPLITS, self.root, "split")
        self._relpaths: dict[str, str] = {}
        self.split_images = self._read_split()
        self.queries = self._read_triplets()
        if check_images:
            self.check_images()

    def _register(self, relpath: str, path: Path, field: str) -> str:
        relpath = relpath.lstrip("/")
        name = shoes_name(relpath)
        known = self._relpaths.setdefault(name, relpath)
        if known != relpath:
            raise DataFormatError(path, field, f"image name {name!r} names two files ({known!r} and {relpath!r})")
        return name

    def _read_split(self) -> list[str]:
        path = self.root / f"split.{self.split}.json"
        names = []
        for i, relpath in enumerate(expect_list(load_json(path), path)):
            if not isinstance(relpath, str):
                raise DataFormatError(path, f"[{i}]", f"expected an image path (str), got {type_name(relpath)}")
            names.append(self._register(relpath, path, f"[{i}]"))
        return names

    def _read_triplets(self) -> list[ShoesTriplet]:
        path = self.root / f"triplet.{self.split}.json"
        triplets = []
        for i, entry in enumerate(expect_list(load_json(path), path)):
            where = f"[{i}]"
            reference = get_field(entry, "ReferenceImageName", str, path, where)
            target = get_field(entry, "ImageName", str, path, where)
            caption = get_field(entry, "RelativeCaption", str, path, where)
            triplets.append(ShoesTriplet(self._register(reference, path, f"{where}.ReferenceImageName"),
                                         self._register(target, path, f"{where}.ImageName"), caption))
        return triplets

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return list(self.split_images)

    def image_path(self, name: str) -> Path:
        if name not in self._relpaths:
            raise DataFormatError(self.root / f"split.{self.split}.json", name, "image not listed in this split")
        return self.root / self._relpaths[name]

    def _query_images(self) -> list[str]:
        return [name for t in self.queries for name in (t.reference, t.target)]
