"""The interface every benchmark reader shares: queries, galleries by protocol, image paths, missing images."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from common.data.errors import DataFormatError
from common.data.parsing import unique


@dataclass(frozen=True)
class ImageRecord:
    """One image of a split (the originals' "classic" mode item); ``group`` is its category or split."""

    name: str
    group: str


class BenchmarkReader(abc.ABC):
    """Parsed annotations of one benchmark split; torch-free (torch Dataset adapters live in the paper folders).

    Subclasses set ``dataset`` (the folder name under a data root), ``protocols`` (the first is the default),
    fill ``self.queries`` in ``__init__`` and implement ``gallery``, ``image_path`` and ``_query_images``.
    """

    dataset: ClassVar[str]
    protocols: tuple[str, ...]

    def __init__(self, root: str | Path, split: str):
        self.root = Path(root)
        self.split = split
        self.queries: list[Any] = []

    @abc.abstractmethod
    def gallery(self, protocol: str | None = None) -> list[str]:
        """Image names to rank for ``protocol`` (default: the reader's first protocol)."""

    @abc.abstractmethod
    def image_path(self, name: str) -> Path:
        """Where the image called ``name`` lives (whether or not the file exists)."""

    @abc.abstractmethod
    def _query_images(self) -> list[str]:
        """Every image name the queries refer to (references, targets, candidates), repeats allowed."""

    def resolve_protocol(self, protocol: str | None) -> str:
        if protocol is None:
            return self.protocols[0]
        if protocol not in self.protocols:
            raise DataFormatError(self.root, "protocol",
                                  f"unknown protocol {protocol!r} for {self.dataset} (expected one of {', '.join(self.protocols)})")
        return protocol

    def referenced_images(self) -> list[str]:
        """Unique image names used by the queries or by any gallery, in first-seen order."""
        names = self._query_images()
        for protocol in self.protocols:
            names.extend(self.gallery(protocol))
        return unique(names)

    def missing_images(self) -> list[str]:
        """Referenced images whose file does not exist."""
        return [name for name in self.referenced_images() if not self.image_path(name).is_file()]

    def check_images(self) -> None:
        """Raise naming the first missing image file (used by readers built with ``check_images=True``)."""
        missing = self.missing_images()
        if missing:
            total = len(self.referenced_images())
            raise DataFormatError(self.image_path(missing[0]), "image",
                                  f"missing ({len(missing)} of {total} referenced {self.dataset} images are missing)")

    def __len__(self) -> int:
        return len(self.queries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, queries={len(self.queries)})"
