"""Caption text corpora (txt, jsonl, csv, parquet files, or a Hugging Face dataset already in the local cache).

Layout (``root`` is the ``corpus/`` folder): any number of caption files directly under it, read in name order:
``*.txt`` (one caption per line), ``*.jsonl`` (one object per line with a ``column`` string), ``*.csv`` (header row
with ``column``), ``*.parquet`` (a ``column`` of strings). A corpus has no split and no images: ``split`` is
``"all"``, ``gallery()`` is empty and ``image_path`` raises. Empty lines of txt files are skipped; so are null and
blank captions elsewhere (web-scale caption datasets have a few; each file's count is printed as a warning), while
a caption of another type (a number, a list) is a format error.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError

SUFFIXES = (".txt", ".jsonl", ".csv", ".parquet")


def _kept_captions(fields_and_values: Iterable[tuple[str, object]], path: Path) -> list[str]:
    """The caption strings; null and blank ones are skipped and counted on stderr, other types refused."""
    captions, blank = [], 0
    for field, value in fields_and_values:
        # value != value: a NaN, pandas' null in a string column
        if value is None or value != value or (isinstance(value, str) and not value.strip()):
            blank += 1
        elif isinstance(value, str):
            captions.append(value)
        else:
            raise DataFormatError(path, field, f"expected a caption string, got {value!r:.40}")
    if blank:
        print(f"WARNING: {path}: skipped {blank} null or blank caption(s)", file=sys.stderr, flush=True)
    return captions


def _read_txt(path: Path, column: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def _read_jsonl(path: Path, column: str) -> list[str]:
    values = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(path, f"line {number}", f"malformed JSON ({err.msg})") from None
            if not isinstance(record, dict) or column not in record:
                raise DataFormatError(path, f"line {number}.{column}", "missing key")
            values.append((f"line {number}.{column}", record[column]))
    return _kept_captions(values, path)


def _read_table(path: Path, column: str) -> list[str]:
    import pandas

    frame = pandas.read_parquet(path) if path.suffix == ".parquet" else pandas.read_csv(path, dtype=str,
                                                                                         keep_default_na=False)
    if column not in frame.columns:
        raise DataFormatError(path, column, f"missing column (columns: {', '.join(map(str, frame.columns))})")
    return _kept_captions(((f"row {i}.{column}", value) for i, value in enumerate(frame[column].tolist())), path)


READERS = {".txt": _read_txt, ".jsonl": _read_jsonl, ".csv": _read_table, ".parquet": _read_table}


class CaptionCorpus(BenchmarkReader):
    """Every caption of the corpus files under ``root`` (or of the given ``files``), in order; ``.queries`` is the list."""

    dataset = "corpus"
    protocols = ("corpus.text",)

    def __init__(self, root: str | Path, files: Sequence[str | Path] | None = None, column: str = "text"):
        super().__init__(root, "all")
        if not self.root.is_dir():
            raise DataFormatError(self.root, "root", "not a directory (expected the caption corpus folder `corpus/`)")
        paths = ([self.root / f for f in files] if files is not None else
                 sorted(p for p in self.root.iterdir() if p.is_file() and p.suffix in SUFFIXES))
        if not paths:
            raise DataFormatError(self.root, "files", f"no caption file ({', '.join('*' + s for s in SUFFIXES)})")
        self.files = paths
        for path in paths:
            if path.suffix not in READERS:
                raise DataFormatError(path, "suffix", f"unsupported corpus file (expected {', '.join(SUFFIXES)})")
            if not path.is_file():
                raise DataFormatError(path, "file", "missing")
            self.queries.extend(READERS[path.suffix](path, column))
        if not self.queries:
            raise DataFormatError(self.root, "captions", "empty corpus (no caption in any file)")

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return []

    def image_path(self, name: str) -> Path:
        raise DataFormatError(self.root, "image", "a caption corpus has no images")

    def _query_images(self) -> list[str]:
        return []


def load_hf_captions(name: str, cache_dir: str | Path | None = None, split: str = "train",
                     column: str = "text") -> list[str]:
    """Captions of a Hugging Face dataset that is already in the local cache; never downloads.

    Sets ``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` before importing ``datasets``. Raises ModuleNotFoundError when
    the ``datasets`` package is not installed (a ``datasets/`` data folder on ``sys.path`` is not mistaken for it).
    """
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        hf_datasets = importlib.import_module("datasets")
    except ModuleNotFoundError:
        hf_datasets = None
    if hf_datasets is None or not hasattr(hf_datasets, "load_dataset"):
        raise ModuleNotFoundError("load_hf_captions needs the Hugging Face `datasets` package "
                                  "(pip install datasets); or export the captions to a txt/jsonl/csv/parquet corpus")
    table = hf_datasets.load_dataset(name, split=split, cache_dir=None if cache_dir is None else str(cache_dir),
                                     download_mode="reuse_cache_if_exists")
    if column not in table.column_names:
        raise DataFormatError(name, column, f"missing column (columns: {', '.join(table.column_names)})")
    return _kept_captions(((f"row {i}.{column}", value) for i, value in enumerate(table[column])), Path(name))
