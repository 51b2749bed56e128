"""Typed access to benchmark files: every failure becomes a one-line DataFormatError naming file and field."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from common.data.errors import DataFormatError


def type_name(value: Any) -> str:
    return type(value).__name__


def load_json(path: Path) -> Any:
    """Parse one JSON file; a missing file or a syntax error names the file (and the line/column)."""
    if not path.is_file():
        raise DataFormatError(path, "file", "missing")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"line {err.lineno} column {err.colno}", f"malformed JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"byte {err.start}", "not UTF-8 text") from None


def read_lines(path: Path) -> list[str]:
    """Non-empty, stripped lines of a text file."""
    if not path.is_file():
        raise DataFormatError(path, "file", "missing")
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    except UnicodeDecodeError as err:
        raise DataFormatError(path, f"byte {err.start}", "not UTF-8 text") from None


def expect_list(value: Any, path: Path, field: str = "top level", allow_empty: bool = False) -> list:
    if not isinstance(value, list):
        raise DataFormatError(path, field, f"expected a list, got {type_name(value)}")
    if not value and not allow_empty:
        raise DataFormatError(path, field, "empty split (no entries)")
    return value


def expect_dict(value: Any, path: Path, field: str = "top level", allow_empty: bool = False) -> dict:
    if not isinstance(value, dict):
        raise DataFormatError(path, field, f"expected an object, got {type_name(value)}")
    if not value and not allow_empty:
        raise DataFormatError(path, field, "empty split (no entries)")
    return value


def get_field(record: Any, key: str, kind: type | tuple[type, ...], path: Path, where: str,
              optional: bool = False) -> Any:
    """``record[key]`` checked to be of ``kind`` (bool is never accepted as int); ``where`` locates the record."""
    field = f"{where}.{key}"
    if not isinstance(record, Mapping):
        raise DataFormatError(path, where, f"expected an object, got {type_name(record)}")
    if key not in record:
        if optional:
            return None
        raise DataFormatError(path, field, "missing key")
    value = record[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise DataFormatError(path, field, f"expected {expected}, got {type_name(value)}")
    return value


def get_str_list(record: Any, key: str, path: Path, where: str, length: int | None = None) -> tuple[str, ...]:
    """A list of strings, optionally of an exact length."""
    values = get_field(record, key, list, path, where)
    if length is not None and len(values) != length:
        raise DataFormatError(path, f"{where}.{key}", f"expected {length} entries, got {len(values)}")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise DataFormatError(path, f"{where}.{key}[{i}]", f"expected str, got {type_name(value)}")
    return tuple(values)


def as_id(value: Any, path: Path, field: str) -> str:
    """An image id written as int or str in the file, returned as the string the originals use."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DataFormatError(path, field, f"expected an int or str id, got {type_name(value)}")
    return str(value)


def check_choice(value: str, choices: Sequence[str], path: Path, field: str) -> str:
    if value not in choices:
        raise DataFormatError(path, field, f"unknown value {value!r} (expected one of {', '.join(choices)})")
    return value


def require_dirs(root: Path, names: Iterable[str], dataset: str, folder: str) -> None:
    """Fail with a hint when ``root`` is not the dataset's own folder (e.g. the data root was passed)."""
    if not root.is_dir():
        raise DataFormatError(root, "root", f"not a directory (expected the {dataset} folder `{folder}/`)")
    missing = [name for name in names if not (root / name).is_dir()]
    if missing:
        hint = f"; did you mean {root / folder}?" if (root / folder).is_dir() else ""
        raise DataFormatError(root, "root", f"not a {dataset} folder (missing {', '.join(m + '/' for m in missing)}){hint}")


def unique(names: Iterable[str]) -> list[str]:
    """Names in first-seen order without repeats."""
    return list(dict.fromkeys(names))


def require_files(root: Path, names: Iterable[str], dataset: str, folder: str) -> None:
    """Like :func:`require_dirs` for datasets whose folder holds annotation files at the top level."""
    if not root.is_dir():
        raise DataFormatError(root, "root", f"not a directory (expected the {dataset} folder `{folder}/`)")
    names = list(names)
    if not any((root / name).is_file() for name in names):
        hint = f"; did you mean {root / folder}?" if (root / folder).is_dir() else ""
        raise DataFormatError(root, "root", f"not a {dataset} folder (none of {', '.join(names)}){hint}")
