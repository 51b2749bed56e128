"""FashionMT reader: 4-image, 3-turn sessions (combination or rollback), gallery index files and gallery captions.

Layout (``root`` is the ``FashionMT/`` folder; ``modifiers/`` is the original's ``json_file_root``)::

    modifiers/{FC,200k,shoes}_{train,test}_cap.json, Fiq_{train,val}_cap.json
        [{"ref", "tar1", "tar2", "tar3", "mod1", "mod2", "mod3", "cap0", "cap1", "cap2", "cap3"}]  (all strings)
    modifiers/{FC,Fiq,200k,shoes}_index_names.txt     gallery, one image per line
    modifiers/FC-caption.json                          {product_id: title}   (FC gallery captions)
    images/<relative image path>                       record paths; absolute paths are used as they are
    captions/{fiq,200k,shoes}/<key>.txt                gallery captions (BLIP-2 / caption files)

Subsets: ``fc`` and ``fiq`` are *combination* sessions, ``200k`` and ``shoes`` *rollback* sessions. Any non-train
split reads the ``*_test_*`` file (``*_val_*`` for fiq), as the original. Image names are the strings of the
files; a Fiq index line that is a bare ASIN becomes ``fashion-iq/{asin}.png`` (the original adds its FashionIQ
image folder and ``.png``), so Fiq records must name images the same way. Gallery caption keys follow the original:
FC -> parent folder name looked up in ``FC-caption.json``; fiq -> ``{asin}.txt``; 200k -> ``{basename up to the
first '_'}.txt``; shoes -> basename with ``jpg`` replaced by ``txt``. Caption files are read with surrounding
whitespace stripped. Protocol ``fashionmt.final_turn``: gallery = the index file (reference and history not removed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError
from common.data.parsing import check_choice, expect_dict, expect_list, get_field, load_json, read_lines, require_dirs

SUBSETS = {"fc": "FC", "fiq": "Fiq", "200k": "200k", "shoes": "shoes"}
COMBINATION = ("fc", "fiq")
SPLITS = ("train", "val", "test")
FIELDS = ("ref", "tar1", "tar2", "tar3", "mod1", "mod2", "mod3", "cap0", "cap1", "cap2", "cap3")


@dataclass(frozen=True)
class FashionMTSession:
    """ref --mod1--> tar1 --mod2--> tar2 --mod3--> tar3; ``capK`` describes the K-th image."""

    ref: str
    tar1: str
    tar2: str
    tar3: str
    mod1: str
    mod2: str
    mod3: str
    cap0: str
    cap1: str
    cap2: str
    cap3: str

    @property
    def images(self) -> tuple[str, str, str, str]:
        return self.ref, self.tar1, self.tar2, self.tar3

    @property
    def modifiers(self) -> tuple[str, str, str]:
        return self.mod1, self.mod2, self.mod3

    @property
    def captions(self) -> tuple[str, str, str, str]:
        return self.cap0, self.cap1, self.cap2, self.cap3

    @property
    def rollback_index(self) -> int:
        """Which history image a rollback ``mod3`` returns to: ``"FIRST"`` -> 0, ``"SECOND"`` -> 1, else 2."""
        if "FIRST" in self.mod3:
            return 0
        if "SECOND" in self.mod3:
            return 1
        return 2


class FashionMT(BenchmarkReader):
    """Sessions of one FashionMT subset and split; ``kind`` is ``"combination"`` or ``"rollback"``."""

    dataset = "FashionMT"
    protocols = ("fashionmt.final_turn",)

    def __init__(self, root: str | Path, split: str, subset: str = "fc", check_images: bool = False):
        super().__init__(root, split)
        require_dirs(self.root, ("modifiers",), "FashionMT", "FashionMT")
        check_choice(split, SPLITS, self.root, "split")
        check_choice(subset, tuple(SUBSETS), self.root, "subset")
        self.subset = subset
        self.kind = "combination" if subset in COMBINATION else "rollback"
        prefix = SUBSETS[subset]
        eval_part = "val" if subset == "fiq" else "test"
        self.session_file = self.root / "modifiers" / f"{prefix}_{'train' if split == 'train' else eval_part}_cap.json"
        self.index_file = self.root / "modifiers" / f"{prefix}_index_names.txt"
        self.queries = self._read_sessions()
        self.index_names = [self._index_name(line) for line in read_lines(self.index_file)]
        if not self.index_names:
            raise DataFormatError(self.index_file, "file", "empty split (no entries)")
        self._fc_captions: dict[str, str] | None = None
        if check_images:
            self.check_images()

    def _read_sessions(self) -> list[FashionMTSession]:
        path = self.session_file
        sessions = []
        for i, entry in enumerate(expect_list(load_json(path), path)):
            values = [get_field(entry, key, str, path, f"[{i}]") for key in FIELDS]
            sessions.append(FashionMTSession(*values))
        return sessions

    def _index_name(self, line: str) -> str:
        if self.subset == "fiq" and "/" not in line and "." not in line:
            return f"fashion-iq/{line}.png"
        return line

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return list(self.index_names)

    def image_path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.root / "images" / name

    def gallery_caption(self, name: str) -> str:
        """The caption the original pairs with a gallery image (see the module docstring for the keys)."""
        basename = PurePosixPath(name).name
        if self.subset == "fc":
            if self._fc_captions is None:
                path = self.root / "modifiers" / "FC-caption.json"
                self._fc_captions = expect_dict(load_json(path), path)
            key = PurePosixPath(name).parent.name
            if key not in self._fc_captions or not isinstance(self._fc_captions[key], str):
                raise DataFormatError(self.root / "modifiers" / "FC-caption.json", key, "no caption for this product")
            return self._fc_captions[key]
        if self.subset == "fiq":
            file_name = basename.split(".png")[0] + ".txt"
        elif self.subset == "200k":
            file_name = basename.split("_")[0] + ".txt"
        else:
            file_name = basename.replace("jpg", "txt")
        path = self.root / "captions" / self.subset / file_name
        if not path.is_file():
            raise DataFormatError(path, "caption", f"missing caption file for gallery image {name!r}")
        return path.read_text(encoding="utf-8").strip()

    def _query_images(self) -> list[str]:
        return [name for session in self.queries for name in session.images]
