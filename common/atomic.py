"""Atomic file writes: a temporary file in the target folder, fsync, then os.replace (torch-free)."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file through `write(fileobj)` into a temporary file in the same folder, fsync, then rename.

    Readers see either the old file or the complete new one; on error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp creates 0600; the result gets ordinary file permissions
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_json_atomic(obj: Any, path: str | os.PathLike, **dump_kwargs: Any) -> Path:
    """`json.dump(obj)` to `path` atomically (UTF-8, indent 2 unless given)."""
    dump_kwargs.setdefault("indent", 2)
    text = json.dumps(obj, **dump_kwargs) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
