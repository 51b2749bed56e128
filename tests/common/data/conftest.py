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
