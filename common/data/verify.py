"""Check a benchmark folder: parse every split, compare sizes with the full datasets, find missing/unreadable images.

    python -m common.data.verify --dataset NAME --root DIR [--expected full|any] [--allow-missing] [--no-decode]
                                 [--missing-out FILE]

Exit status: 0 when the layout parses, sizes match (``--expected full``) and every referenced image is present and
readable; 1 when the layout is broken (a format error, a size mismatch, an unreadable image, a split with known
full size absent) or images are missing without ``--allow-missing``; 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from common.data import fashionmt
from common.data.base import BenchmarkReader
from common.data.circo import CIRCO
from common.data.cirr import CIRR
from common.data.corpus import CaptionCorpus
from common.data.errors import DataFormatError
from common.data.fashion200k import Fashion200k
from common.data.fashioniq import FashionIQ
from common.data.fashionmt import FashionMT
from common.data.genecis import GeneCIS
from common.data.imagenet import ImageNetCaptions
from common.data.shoes import Shoes

ALIASES = {"fashion-iq": "fashioniq", "cirr_dataset": "cirr"}
SHOWN = 20


@dataclass
class Unit:
    """One split (or category/task/subset) to parse; ``probe`` is its main annotation file."""

    label: str
    probe: Path
    build: Callable[[], BenchmarkReader]
    expected: dict[str, int | tuple[int, ...]] = field(default_factory=dict)


def _fashioniq(root: Path) -> list[Unit]:
    full = {("train", "dress"): (5985, 11452), ("train", "shirt"): (5988, 19036), ("train", "toptee"): (6027, 16121),
            ("val", "dress"): (2017, 3817), ("val", "shirt"): (2038, 6346), ("val", "toptee"): (1961, 5373),
            ("test", "dress"): (2024, 3818), ("test", "shirt"): (2038, 6346), ("test", "toptee"): (2056, 5374)}
    return [Unit(f"{split}/{cat}", root / "captions" / f"cap.{cat}.{split}.json",
                 lambda s=split, c=cat: FashionIQ(root, s, c), {"queries": q, "gallery": g})
            for (split, cat), (q, g) in full.items()]


def _cirr(root: Path) -> list[Unit]:
    full = {"train": (28225, 16939), "val": (4181, 2297), "test1": (4148, 2315)}
    return [Unit(s, root / "cirr" / "captions" / f"cap.rc2.{s}.json", lambda s=s: CIRR(root, s),
                 {"queries": q, "gallery": g}) for s, (q, g) in full.items()]


def _circo(root: Path) -> list[Unit]:
    return [Unit(s, root / "annotations" / f"{s}.json", lambda s=s: CIRCO(root, s), {"queries": q, "gallery": 123403})
            for s, q in (("val", 220), ("test", 800))]


def _shoes(root: Path) -> list[Unit]:
    return [Unit(s, root / f"triplet.{s}.json", lambda s=s: Shoes(root, s)) for s in ("train", "val")]


def _fashion200k(root: Path) -> list[Unit]:
    train = {"unique_captions": 53099, "modifiable_images": 99130}
    return [Unit("train", root / "labels", lambda: Fashion200k(root, "train"), train),
            Unit("test", root / "test_queries.txt", lambda: Fashion200k(root, "test"),
                 {"queries": (33480, 29789)})]


def _genecis(root: Path) -> list[Unit]:
    full = {"focus_attribute": None, "change_attribute": 2112, "focus_object": 1960, "change_object": 1960}
    return [Unit(task, root / f"{task}.json", lambda t=task: GeneCIS(root, t), {} if q is None else {"queries": q})
            for task, q in full.items()]


def _fashionmt(root: Path) -> list[Unit]:
    units = []
    for subset, prefix in fashionmt.SUBSETS.items():
        for split, part in (("train", "train"), ("test", "val" if subset == "fiq" else "test")):
            units.append(Unit(f"{subset}/{split}", root / "modifiers" / f"{prefix}_{part}_cap.json",
                              lambda s=split, b=subset: FashionMT(root, s, b)))
    return units


def _imagenet(root: Path) -> list[Unit]:
    return [Unit("test", root / "blip_pairs.json", lambda: ImageNetCaptions(root, "test"))]


def _corpus(root: Path) -> list[Unit]:
    return [Unit("all", root, lambda: CaptionCorpus(root))]


UNITS: dict[str, Callable[[Path], list[Unit]]] = {
    "fashioniq": _fashioniq, "shoes": _shoes, "fashion200k": _fashion200k, "cirr": _cirr, "circo": _circo,
    "genecis": _genecis, "fashionmt": _fashionmt, "imagenet": _imagenet, "corpus": _corpus,
}


def _counts(reader: BenchmarkReader) -> dict[str, int]:
    counts = {"queries": len(reader.queries), "gallery": len(reader.gallery())}
    counts.update(getattr(reader, "stats", {}))
    return counts


def _consistency(reader: BenchmarkReader) -> list[str]:
    """Protocol invariants the original evaluation asserts."""
    problems = []
    if isinstance(reader, FashionMT) and reader.split != "train":
        occurrences = Counter(reader.gallery())
        bad = [s.tar3 for s in reader.queries if occurrences[s.tar3] != 1]
        if bad:
            problems.append(f"{len(bad)} final-turn targets are not exactly once in {reader.index_file.name} "
                            f"(first: {bad[0]})")
    if isinstance(reader, CIRR) and reader.split == "val":
        bad = [str(t.pairid) for t in reader.queries if t.members.count(t.target) != 1]
        if bad:
            problems.append(f"{len(bad)} targets are not exactly once in their img_set (first pairid: {bad[0]})")
    return problems


def _unreadable(paths: list[Path]) -> list[str]:
    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.verify()
        except Exception as err:  # PIL raises many types for corrupt files
            bad.append(f"{path} ({type(err).__name__}: {err})")
    return bad


def verify(dataset: str, root: Path, expected: str = "full", allow_missing: bool = False,
           decode: bool = True, missing_out: Path | None = None, out=None) -> int:
    """Print the report for one dataset folder (to ``out``, default stdout) and return the exit status."""
    out = out if out is not None else sys.stdout
    print(f"verify {dataset} at {root} (expected sizes: {expected})", file=out)
    broken: list[str] = []
    images: dict[Path, str] = {}
    loaded = 0
    units = UNITS[dataset](root)
    for unit in units:
        if not unit.probe.exists():
            status = "absent"
            if expected == "full" and unit.expected:
                broken.append(f"{unit.label}: {unit.probe} is missing")
                status = "ABSENT (a full dataset has it)"
            print(f"  {unit.label:<24} {status}", file=out)
            continue
        try:
            reader = unit.build()
        except DataFormatError as err:
            broken.append(f"{unit.label}: {err}")
            print(f"  {unit.label:<24} BROKEN  {err}", file=out)
            continue
        loaded += 1
        counts = _counts(reader)
        parts = []
        for key, value in counts.items():
            want = unit.expected.get(key)
            text = f"{key} {value}"
            if expected == "full" and want is not None:
                allowed = want if isinstance(want, tuple) else (want,)
                text += f" (full: {'/'.join(map(str, allowed))})"
                if value not in allowed:
                    broken.append(f"{unit.label}: {key} {value}, the full dataset has {'/'.join(map(str, allowed))}")
                    text += " MISMATCH"
            parts.append(text)
        problems = _consistency(reader)
        broken.extend(f"{unit.label}: {p}" for p in problems)
        print(f"  {unit.label:<24} " + ", ".join(parts) + "".join(f"; {p}" for p in problems), file=out)
        if dataset != "corpus":
            for name in reader.referenced_images():
                images.setdefault(reader.image_path(name), name)
    if loaded == 0:
        broken.append(f"no split of {dataset} found under {root}")
        try:
            units[0].build()
        except DataFormatError as err:
            broken[-1] += f" ({err})"
    missing = [path for path in images if not path.is_file()]
    unreadable = _unreadable([path for path in images if path.is_file()]) if decode else []
    present = len(images) - len(missing)
    if images:
        print(f"images: {len(images)} referenced, {present} present, {len(missing)} missing, "
              f"{len(unreadable)} unreadable{'' if decode else ' (not decoded)'} "
              f"(coverage {100 * present / len(images):.2f}%)", file=out)
    for path in missing[:SHOWN]:
        print(f"  missing: {path}", file=out)
    if len(missing) > SHOWN:
        print(f"  ... and {len(missing) - SHOWN} more missing", file=out)
    if missing_out is not None:
        missing_out.write_text("".join(f"{path}\n" for path in missing))
        print(f"  all {len(missing)} missing paths written to {missing_out}", file=out)
    for line in unreadable[:SHOWN]:
        print(f"  unreadable: {line}", file=out)
    broken.extend(f"unreadable image {line}" for line in unreadable)
    if broken:
        print(f"RESULT: BROKEN ({len(broken)} problems; first: {broken[0]})", file=out)
        return 1
    if missing:
        print(f"RESULT: PARTIAL ({len(missing)} images missing)", file=out)
        return 0 if allow_missing else 1
    print("RESULT: OK", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.data.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(UNITS)} (or its folder name)")
    parser.add_argument("--root", required=True, type=Path, help="the dataset's own folder, e.g. datasets/fashion-iq")
    parser.add_argument("--expected", choices=("full", "any"), default="full",
                        help="full: compare sizes with the released datasets; any: skip the size check (synthetic)")
    parser.add_argument("--allow-missing", action="store_true", help="exit 0 on a partial image set (report only)")
    parser.add_argument("--no-decode", action="store_true", help="check image existence only, skip PIL verify")
    parser.add_argument("--missing-out", type=Path, help="write every missing image path to this file")
    args = parser.parse_args(argv)
    dataset = ALIASES.get(args.dataset.lower(), args.dataset.lower())
    if dataset not in UNITS:
        parser.error(f"--dataset: unknown dataset {args.dataset!r} (expected one of {', '.join(UNITS)})")
    return verify(dataset, args.root, args.expected, args.allow_missing, not args.no_decode, args.missing_out)


if __name__ == "__main__":
    sys.exit(main())
