"""Deterministic writers: images without timestamps, JSON with sorted keys, a registry of rendered images."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from common.synthetic.attributes import Garment
from common.synthetic.render import render_garment

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".JPEG": "JPEG"}


def save_image(array: np.ndarray, path: Path) -> None:
    """PNG (no metadata chunks) or JPEG (quality 92); identical bytes for identical arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise ValueError(f"{path}: unsupported image extension")
    options = {"quality": 92} if fmt == "JPEG" else {"compress_level": 6}
    Image.fromarray(array).save(path, format=fmt, **options)


def write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


class ImageStore:
    """Renders each named garment image once into `root`; remembers every name's garment."""

    def __init__(self, root: Path, rng: np.random.Generator, size: int = 64):
        self.root, self.rng, self.size = root, rng, size
        self.garments: dict[str, Garment] = {}

    def add(self, name: str, relative_path: str, garment: Garment) -> str:
        if name in self.garments:
            if self.garments[name] != garment:
                raise ValueError(f"{self.root / relative_path}: image name {name!r} reused for another garment")
            return name
        image, _ = render_garment(garment, self.rng, self.size)
        save_image(image, self.root / relative_path)
        self.garments[name] = garment
        return name
