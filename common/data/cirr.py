"""CIRR (rc2) reader: captions, image splits, 6-image groups; test1 has no targets.

Layout (``root`` is the ``cirr_dataset/`` folder)::

    cirr/captions/cap.rc2.{train,val,test1}.json
        [{"pairid", "reference", "target_hard", "target_soft": {name: score}, "caption",
          "img_set": {"id", "members": [6 names], "reference_rank", "target_rank"}}]
        (test1 entries have no target_hard, target_soft or target_rank)
    cirr/image_splits/split.rc2.{train,val,test1}.json     {name: "./dev/dev-244-0-img0.png", ...}
    train/<n>/*.png   dev/*.png   test1/*.png

Decisions: split ``"test"`` means ``"test1"`` (as in SEARLE/LinCIR); ``members`` must hold exactly 6 names; the
reference, the target and every member must be listed in the split file (true for the released val and test1
files), so a missing name is a format error, never a silent skip. Gallery (``cirr.rc2``) = every key of the split
file in file order; evaluation removes the reference from each ranking (not done here).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.data.base import BenchmarkReader, ImageRecord
from common.data.errors import DataFormatError
from common.data.parsing import (check_choice, expect_dict, expect_list, get_field, get_str_list, load_json,
                                 require_dirs, type_name)

SPLITS = ("train", "val", "test1")
GROUP_SIZE = 6


@dataclass(frozen=True)
class CIRRTriplet:
    """One CIRR query; ``target`` (``target_hard``), ``target_soft`` and ``target_rank`` are absent on test1."""

    pairid: int
    reference: str
    caption: str
    members: tuple[str, ...]
    set_id: int
    reference_rank: int | None
    target: str | None = None
    target_rank: int | None = None
    target_soft: dict[str, float] = field(default_factory=dict)


class CIRR(BenchmarkReader):
    """CIRR queries of one split; ``mode="classic"`` makes ``.queries`` one :class:`ImageRecord` per split image."""

    dataset = "cirr_dataset"
    protocols = ("cirr.rc2",)

    def __init__(self, root: str | Path, split: str, mode: str = "relative", check_images: bool = False):
        split = "test1" if split == "test" else split
        super().__init__(root, split)
        require_dirs(self.root, ("cirr/captions", "cirr/image_splits"), "CIRR", "cirr_dataset")
        check_choice(split, SPLITS, self.root, "split")
        check_choice(mode, ("relative", "classic"), self.root, "mode")
        self.mode = mode
        self.name_to_relpath = self._read_split()
        self.triplets = self._read_captions()
        self.queries = (list(self.triplets) if mode == "relative" else
                        [ImageRecord(name, self.split) for name in self.name_to_relpath])
        if check_images:
            self.check_images()

    def _read_split(self) -> dict[str, str]:
        path = self.root / "cirr" / "image_splits" / f"split.rc2.{self.split}.json"
        mapping = expect_dict(load_json(path), path)
        for name, relpath in mapping.items():
            if not isinstance(relpath, str):
                raise DataFormatError(path, name, f"expected a relative image path (str), got {type_name(relpath)}")
        return mapping

    def _known(self, name: str, path: Path, where: str) -> str:
        if name not in self.name_to_relpath:
            raise DataFormatError(path, where, f"image {name!r} is not listed in split.rc2.{self.split}.json")
        return name

    def _read_captions(self) -> list[CIRRTriplet]:
        path = self.root / "cirr" / "captions" / f"cap.rc2.{self.split}.json"
        entries = expect_list(load_json(path), path)
        has_target = self.split != "test1"
        triplets = []
        for i, entry in enumerate(entries):
            where = f"[{i}]"
            pairid = get_field(entry, "pairid", int, path, where)
            reference = self._known(get_field(entry, "reference", str, path, where), path, f"{where}.reference")
            caption = get_field(entry, "caption", str, path, where)
            img_set = get_field(entry, "img_set", dict, path, where)
            set_where = f"{where}.img_set"
            members = get_str_list(img_set, "members", path, set_where, length=GROUP_SIZE)
            for k, member in enumerate(members):
                self._known(member, path, f"{set_where}.members[{k}]")
            set_id = get_field(img_set, "id", int, path, set_where)
            reference_rank = get_field(img_set, "reference_rank", int, path, set_where, optional=True)
            target = target_rank = None
            target_soft: dict[str, float] = {}
            if has_target:
                target = self._known(get_field(entry, "target_hard", str, path, where), path, f"{where}.target_hard")
                target_rank = get_field(img_set, "target_rank", int, path, set_where, optional=True)
                soft = get_field(entry, "target_soft", dict, path, where, optional=True) or {}
                for name, score in soft.items():
                    if isinstance(score, bool) or not isinstance(score, (int, float)):
                        raise DataFormatError(path, f"{where}.target_soft.{name}", f"expected a number, got {type_name(score)}")
                    target_soft[name] = float(score)
            triplets.append(CIRRTriplet(pairid, reference, caption, members, set_id, reference_rank,
                                        target, target_rank, target_soft))
        return triplets

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return list(self.name_to_relpath)

    def image_path(self, name: str) -> Path:
        if name not in self.name_to_relpath:
            raise DataFormatError(self.root / "cirr" / "image_splits" / f"split.rc2.{self.split}.json", name,
                                  "image not listed in this split")
        return self.root / self.name_to_relpath[name]

    def _query_images(self) -> list[str]:
        names: list[str] = []
        for triplet in self.triplets:
            names.append(triplet.reference)
            if triplet.target is not None:
                names.append(triplet.target)
            names.extend(triplet.members)
        return names
