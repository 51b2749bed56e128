"""The one exception every benchmark reader raises on bad input."""
from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A benchmark file or folder does not match its format; the message is ``"<file>: <field>: <problem>"``."""

    def __init__(self, file: str | Path, field: str, problem: str):
        self.file = str(file)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.file}: {field}: {problem}")
