"""Build a folder in a temporary sibling and swap it into place only when complete (never half-written)."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """Yields an empty temporary folder next to `folder`; on success it replaces `folder`, on error it is removed."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a shared cache must be readable like any new folder
    try:
        yield tmp
        if folder.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
            folder.rename(trash / folder.name)
            tmp.rename(folder)
            shutil.rmtree(trash)
        else:
            tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
