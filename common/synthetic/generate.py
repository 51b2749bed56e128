"""Writes the whole synthetic benchmark from one seed, atomically, and regenerates only when it changed."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from common.synthetic.formats.circo import write_circo
from common.synthetic.formats.cirr import write_cirr
from common.synthetic.formats.corpus import write_corpus
from common.synthetic.formats.fashion200k import write_fashion200k
from common.synthetic.formats.fashioniq import write_fashioniq
from common.synthetic.formats.fashionmt import write_fashionmt
from common.synthetic.formats.genecis import write_genecis
from common.synthetic.formats.imagenet import write_imagenet
from common.synthetic.formats.shoes import write_shoes
from common.synthetic.lock import exclusive
from common.synthetic.staging import staged_folder

SIZES = {"small": 1, "medium": 4, "large": 16}
STAMP = ".synthetic_stamp.json"
Writer = Callable[[Path, np.random.Generator, int], object]
# Folder name under the data root -> writer. The order fixes each dataset's random stream.
WRITERS: dict[str, Writer] = {
    "fashion-iq": write_fashioniq,
    "cirr_dataset": write_cirr,
    "shoes": write_shoes,
    "fashion200k": write_fashion200k,
    "CIRCO": write_circo,
    "genecis": write_genecis,
    "FashionMT": write_fashionmt,
    "imagenet": write_imagenet,
    "corpus": write_corpus,
}


CONTENT_SOURCES = ("attributes.py", "captions.py", "render.py", "io.py", "generate.py", "formats")


def _source_digest() -> str:
    """Hash of the code that decides the files' content, so a changed generator invalidates old outputs."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in CONTENT_SOURCES:
        for path in sorted((here / name).rglob("*.py")) if (here / name).is_dir() else [here / name]:
            digest.update(path.relative_to(here).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def stamp_for(seed: int, size: str) -> dict:
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    return {"seed": seed, "size": size, "generator": _source_digest(), "datasets": list(WRITERS)}


def generate(out: Path, seed: int = 0, size: str = "small", datasets: list[str] | None = None) -> Path:
    """Write every dataset folder (or only `datasets`) under `out`, built in a temporary sibling and then moved
    into place. Each dataset draws from its own stream (seed, position in WRITERS), so a subset is byte-identical
    to the same folders of a full generation."""
    out = Path(out)
    stamp = stamp_for(seed, size)
    unknown = sorted(set(datasets or ()) - set(WRITERS))
    if unknown:
        raise ValueError(f"unknown synthetic datasets {unknown} (expected some of {list(WRITERS)})")
    stamp["datasets"] = [name for name in WRITERS if datasets is None or name in datasets]
    with staged_folder(out) as tmp:
        for index, (name, writer) in enumerate(WRITERS.items()):
            if name in stamp["datasets"]:
                writer(tmp / name, np.random.default_rng([seed, index]), SIZES[size])
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    return out


def is_current(root: Path, seed: int = 0, size: str = "small") -> bool:
    """True when `root` was written by this generator version for (seed, size)."""
    try:
        return json.loads((Path(root) / STAMP).read_text()) == stamp_for(seed, size)
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def ensure_synthetic(root: Path | str, seed: int = 0, size: str = "small") -> Path:
    """`root` holding the synthetic benchmark for (seed, size, current generator); generates it if needed."""
    root = Path(root)
    if is_current(root, seed, size):
        return root
    with exclusive(root.parent / f".{root.name}.lock"):
        if not is_current(root, seed, size):
            generate(root, seed, size)
    return root
