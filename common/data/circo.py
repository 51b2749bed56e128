"""CIRCO reader: val/test annotations with several ground truths per query over the COCO 2017 unlabeled images.

Layout (``root`` is the ``CIRCO/`` folder)::

    annotations/{val,test}.json
        val:  [{"id", "reference_img_id", "target_img_id", "relative_caption", "shared_concept", "gt_img_ids": [...]}]
        test: [{"id", "reference_img_id", "relative_caption", "shared_concept"}]
    COCO2017_unlabeled/annotations/image_info_unlabeled2017.json   {"images": [{"id", "file_name", ...}, ...]}
    COCO2017_unlabeled/unlabeled2017/{file_name}

Image names are the COCO ids as strings (as the originals stringify them). The gallery is every image of the
COCO info file in file order (the order defines the gallery). Both protocols rank the same gallery and differ
only in the query text: ``circo.relcap`` uses the relative caption, ``circo.shared_concept`` prefixes the shared
concept (MagicLens style); the reader keeps both strings. Decisions: the reference and every ground truth must
be an image of the info file (a dangling id is a format error); ``gt_img_ids`` is kept unpadded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError
from common.data.parsing import (as_id, check_choice, expect_list, get_field, load_json, require_dirs)

SPLITS = ("val", "test")
INFO_FILE = Path("COCO2017_unlabeled") / "annotations" / "image_info_unlabeled2017.json"
IMAGE_DIR = Path("COCO2017_unlabeled") / "unlabeled2017"


@dataclass(frozen=True)
class CIRCOQuery:
    """One CIRCO query; ``target`` and ``gt_ids`` are None/empty on the test split."""

    query_id: int
    reference: str
    relative_caption: str
    shared_concept: str
    target: str | None = None
    gt_ids: tuple[str, ...] = ()


class CIRCO(BenchmarkReader):
    """CIRCO queries of one split and the COCO unlabeled gallery."""

    dataset = "CIRCO"
    protocols = ("circo.relcap", "circo.shared_concept")

    def __init__(self, root: str | Path, split: str, check_images: bool = False):
        super().__init__(root, split)
        require_dirs(self.root, ("annotations", "COCO2017_unlabeled"), "CIRCO", "CIRCO")
        check_choice(split, SPLITS, self.root, "split")
        self.file_names = self._read_image_info()
        self.queries = self._read_annotations()
        if check_images:
            self.check_images()

    def _read_image_info(self) -> dict[str, str]:
        path = self.root / INFO_FILE
        info = get_field(load_json(path), "images", list, path, "top level")
        if not info:
            raise DataFormatError(path, "images", "empty split (no entries)")
        file_names: dict[str, str] = {}
        for i, image in enumerate(info):
            image_id = as_id(get_field(image, "id", (int, str), path, f"images[{i}]"), path, f"images[{i}].id")
            file_names[image_id] = get_field(image, "file_name", str, path, f"images[{i}]")
        return file_names

    def _known(self, value: object, path: Path, field: str) -> str:
        image_id = as_id(value, path, field)
        if image_id not in self.file_names:
            raise DataFormatError(path, field, f"image id {image_id} is not in {INFO_FILE.name}")
        return image_id

    def _read_annotations(self) -> list[CIRCOQuery]:
        path = self.root / "annotations" / f"{self.split}.json"
        queries = []
        for i, entry in enumerate(expect_list(load_json(path), path)):
            where = f"[{i}]"
            query_id = get_field(entry, "id", int, path, where)
            reference = self._known(get_field(entry, "reference_img_id", (int, str), path, where), path,
                                    f"{where}.reference_img_id")
            caption = get_field(entry, "relative_caption", str, path, where)
            concept = get_field(entry, "shared_concept", str, path, where)
            target, gt_ids = None, ()
            if self.split == "val":
                target = self._known(get_field(entry, "target_img_id", (int, str), path, where), path,
                                     f"{where}.target_img_id")
                raw = get_field(entry, "gt_img_ids", list, path, where)
                if not raw:
                    raise DataFormatError(path, f"{where}.gt_img_ids", "empty ground-truth list")
                gt_ids = tuple(self._known(v, path, f"{where}.gt_img_ids[{k}]") for k, v in enumerate(raw))
            queries.append(CIRCOQuery(query_id, reference, caption, concept, target, gt_ids))
        return queries

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return list(self.file_names)

    def image_path(self, name: str) -> Path:
        if name not in self.file_names:
            raise DataFormatError(self.root / INFO_FILE, name, "image id not in the COCO unlabeled image info")
        return self.root / IMAGE_DIR / self.file_names[name]

    def _query_images(self) -> list[str]:
        names: list[str] = []
        for query in self.queries:
            names.append(query.reference)
            names.extend(query.gt_ids)
        return names
