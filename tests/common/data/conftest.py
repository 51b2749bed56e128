"""Tiny on-disk fixture writers shared by the data-reader tests (the ``files`` fixture)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


class FixtureFiles:
    """Writes benchmark files in their exact on-disk formats."""

    @staticmethod
    def json(path: Path, obj) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=1))
        return path

    @staticmethod
    def image(path: Path, color=(200, 30, 30), size=(8, 8)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, color).save(path)
        return path

    @staticmethod
    def text(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def files() -> FixtureFiles:
    return FixtureFiles()


TRIPLETS = {
    "dress": [{"target": "D2", "candidate": "D1", "captions": ["is red.", "Has long sleeves?"]},
              {"target": "D1", "candidate": "D3", "captions": [" is blue", "shorter"]}],
    "shirt": [{"target": "S2", "candidate": "S1", "captions": ["plain", "striped"]}],
    "toptee": [{"target": "T2", "candidate": "T1", "captions": ["a", "b"]}],
}
SPLIT_IMAGES = {"dress": ["D1", "D2", "D3", "D4"], "shirt": ["S1", "S2"], "toptee": ["T1", "T2"]}


@pytest.fixture
def fiq_root(tmp_path, files):
    """A complete tiny FashionIQ folder except the image of T2."""
    root = tmp_path / "fashion-iq"
    for split in ("train", "val", "test"):
        for category, triplets in TRIPLETS.items():
            entries = triplets if split != "test" else [{"candidate": t["candidate"], "captions": t["captions"]}
                                                        for t in triplets]
            files.json(root / "captions" / f"cap.{category}.{split}.json", entries)
            files.json(root / "image_splits" / f"split.{category}.{split}.json", SPLIT_IMAGES[category])
    for name in ("D1", "D2", "D3", "S1", "S2", "T1"):
        files.image(root / "images" / f"{name}.png")
    files.image(root / "images" / "D4.jpg")
    return root
