"""GeneCIS reader: the four conditional-similarity tasks, VG attribute crops (official quirk) and COCO object images.

Layout (``root`` is the ``genecis/`` folder)::

    {focus_attribute,change_attribute,focus_object,change_object}.json
        [{"reference": img, "target": img, "condition": str, "gallery": [img, ...]}]
        attribute tasks: img = {"image_id": int|str, "instance_bbox": [x, y, w, h]}   (Visual Genome 1.2)
        object tasks:    img = {"val_image_id": int}                                (COCO val2017)
    VG_100K_all/{image_id}.jpg          (``vg_dir`` overrides, like the original's --vg_100k_all_path)
    val2017/{val_image_id:012d}.jpg     (``coco_dir`` overrides, like --coco_val2017_path)

The split is the task name; the protocol is ``genecis.<task>``. Each template ranks ``candidates`` =
``[target] + gallery`` (target at index 0). The raw ``condition`` string is kept for every task (LinCIR's
eval branch lost it for the object tasks). ``gallery()`` lists the unique images of all templates' candidates.
Attribute images are cropped with :func:`genecis_crop`, which keeps the official code's quirk.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError
from common.data.parsing import as_id, check_choice, expect_list, get_field, load_json, type_name, unique

ATTRIBUTE_TASKS = ("focus_attribute", "change_attribute")
OBJECT_TASKS = ("focus_object", "change_object")
TASKS = ATTRIBUTE_TASKS + OBJECT_TASKS
DILATION = 0.7


@dataclass(frozen=True)
class GeneCISImage:
    """An image id as a string; ``bbox`` = ``(x, y, w, h)`` of the instance for attribute tasks, else None."""

    name: str
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class GeneCISTemplate:
    reference: GeneCISImage
    target: GeneCISImage
    condition: str
    gallery: tuple[GeneCISImage, ...]

    @property
    def candidates(self) -> tuple[GeneCISImage, ...]:
        """What is ranked: the target first, then the distractors."""
        return (self.target, *self.gallery)


def _pad_to_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new(image.mode, (side, side), (0,) if image.mode == "L" else (0, 0, 0))
    result.paste(image, (0, (width - height) // 2) if width > height else ((height - width) // 2, 0))
    return result


def genecis_crop(image: Image.Image, bbox: tuple[float, float, float, float]) -> Image.Image:
    """The official VAW crop: dilate by 0.7 of the box to the left/top only, clamp, then pad to a black square.

    ``left = max(0, x - 0.7w)``, ``top = max(0, y - 0.7h)``, ``right = min(W, left + 1.7w)``,
    ``bottom = min(H, top + 1.7h)``; so the right edge is ``x + w`` unless the left side was clamped.
    """
    x, y, w, h = bbox
    left, top = max(0, x - DILATION * w), max(0, y - DILATION * h)
    right = min(image.width, left + (1 + DILATION) * w)
    bottom = min(image.height, top + (1 + DILATION) * h)
    return _pad_to_square(image.crop((left, top, right, bottom)))


class GeneCIS(BenchmarkReader):
    """The templates of one GeneCIS task (``split`` = task name)."""

    dataset = "genecis"
    protocols = tuple(f"genecis.{task}" for task in TASKS)

    def __init__(self, root: str | Path, split: str, vg_dir: str | Path | None = None,
                 coco_dir: str | Path | None = None, check_images: bool = False):
        super().__init__(root, split)
        if not self.root.is_dir():
            raise DataFormatError(self.root, "root", "not a directory (expected the GeneCIS folder `genecis/`)")
        check_choice(split, TASKS, self.root, "split")
        self.protocols = (f"genecis.{split}",)
        self.is_attribute_task = split in ATTRIBUTE_TASKS
        self.image_dir = Path(vg_dir or self.root / "VG_100K_all") if self.is_attribute_task else \
            Path(coco_dir or self.root / "val2017")
        self.queries = self._read_templates()
        if check_images:
            self.check_images()

    def _read_image(self, value: object, path: Path, field: str) -> GeneCISImage:
        if not isinstance(value, dict):
            raise DataFormatError(path, field, f"expected an object, got {type_name(value)}")
        if not self.is_attribute_task:
            return GeneCISImage(str(get_field(value, "val_image_id", int, path, field)))
        name = as_id(get_field(value, "image_id", (int, str), path, field), path, f"{field}.image_id")
        box = get_field(value, "instance_bbox", list, path, field)
        if len(box) != 4 or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in box):
            raise DataFormatError(path, f"{field}.instance_bbox", "expected 4 numbers [x, y, w, h]")
        return GeneCISImage(name, (float(box[0]), float(box[1]), float(box[2]), float(box[3])))

    def _read_templates(self) -> list[GeneCISTemplate]:
        path = self.root / f"{self.split}.json"
        templates = []
        for i, entry in enumerate(expect_list(load_json(path), path)):
            where = f"[{i}]"
            reference = self._read_image(get_field(entry, "reference", dict, path, where), path, f"{where}.reference")
            target = self._read_image(get_field(entry, "target", dict, path, where), path, f"{where}.target")
            condition = get_field(entry, "condition", str, path, where)
            raw_gallery = get_field(entry, "gallery", list, path, where)
            if not raw_gallery:
                raise DataFormatError(path, f"{where}.gallery", "empty gallery")
            gallery = tuple(self._read_image(v, path, f"{where}.gallery[{k}]") for k, v in enumerate(raw_gallery))
            templates.append(GeneCISTemplate(reference, target, condition, gallery))
        return templates

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return unique(image.name for template in self.queries for image in template.candidates)

    def image_path(self, name: str) -> Path:
        if self.is_attribute_task:
            return self.image_dir / f"{name}.jpg"
        return self.image_dir / f"{int(name):012d}.jpg"

    def load_image(self, image: GeneCISImage) -> Image.Image:
        """Open an image as the benchmark uses it (attribute tasks: the dilated, square-padded instance crop)."""
        with Image.open(self.image_path(image.name)) as opened:
            opened.load()
            return genecis_crop(opened, image.bbox) if image.bbox is not None else opened.copy()

    def _query_images(self) -> list[str]:
        return [image.name for t in self.queries for image in (t.reference, t.target, *t.gallery)]
