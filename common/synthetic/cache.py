"""Where the embedded default caches what it builds: $CIR_CACHE, default ~/.cache/cir."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("CIR_CACHE", Path.home() / ".cache" / "cir")).expanduser()
