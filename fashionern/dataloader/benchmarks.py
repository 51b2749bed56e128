"""Adapters from `common.data` readers to what FashionERN consumes: training triplets and evaluation splits."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common.data import CIRR, FashionIQ, check_coverage, fiq_caption, fiq_train_variants
from common.data.fashion200k import Fashion200k
from common.data.shoes import Shoes

FIQ_CATEGORIES = ("dress", "shirt", "toptee")

@dataclass(frozen=True)
class TrainTriplet:
    """Reference, target and the caption variants; each epoch draws one variant uniformly."""

    reference: str
    target: str
    captions: tuple[str, ...]


@dataclass(frozen=True)
class EvalQuery:
    reference: str
    caption: str
    target: str | None
    members: tuple[str, ...] = ()
    pairid: int | None = None
    target_key: str | None = None  # Fashion200k: a hit is any image whose caption equals this


@dataclass
class EvalSplit:
    """One ranking problem: queries against a gallery (per FashionIQ category, or the whole split)."""

    name: str
    queries: list[EvalQuery]
    gallery: list[str]
    exclude_reference: bool = False
    hit_key: Callable[[str], str] | None = None  # maps a gallery name to what `target_key` is compared with

    def members_ranked(self) -> bool:
        """True when queries carry an image group (CIRR subset recall)."""
        return bool(self.queries) and bool(self.queries[0].members)


@dataclass
class Benchmark:
    """Everything a FashionERN run needs from one dataset."""

    dataset: str
    protocol: str
    split: str
    image_path: Callable[[str], Path]
    train: list[TrainTriplet] = field(default_factory=list)
    evals: list[EvalSplit] = field(default_factory=list)
    readers: list = field(default_factory=list)


def present_only(bench: Benchmark, allow_partial: bool) -> tuple[Benchmark, dict[str, Any]]:
    """`bench` restricted to the images on disk, and its coverage record (written into metrics.json).

    A partial dataset raises (naming a missing file) unless `allow_partial`; then it warns loudly and drops
    every training triplet and query that touches a missing image (reference, target or CIRR group member)
    and every missing gallery image, and the record counts what was kept.
    """
    (reader,) = bench.readers
    report = check_coverage(reader, allow_partial)
    missing = set(reader.missing_images()) if report["missing"] else set()
    if not missing:
        return bench, report
    train = [t for t in bench.train if t.reference not in missing and t.target not in missing]
    evals = [replace(s, queries=[q for q in s.queries if not ({q.reference, q.target, *q.members} & missing)],
                     gallery=[g for g in s.gallery if g not in missing]) for s in bench.evals]
    kept = replace(bench, train=train, evals=evals)
    used = {"train_triplets": len(train)} if bench.train else {"queries": sum(len(s.queries) for s in evals)}
    total = ({"train_triplets_total": len(bench.train)} if bench.train
             else {"queries_total": sum(len(s.queries) for s in bench.evals)})
    return kept, {**report, **used, **total}


def fashioniq(data_root: str | Path, split: str, protocol: str = "fiq.original",
              categories: tuple[str, ...] = FIQ_CATEGORIES) -> Benchmark:
    """FashionIQ: all categories together for training; one evaluation split per category."""
    reader = FashionIQ(Path(data_root) / "fashion-iq", split, categories)
    bench = Benchmark("fashioniq", protocol, split, reader.image_path, readers=[reader])
    if split == "train":
        bench.train = [TrainTriplet(t.candidate, t.target, fiq_train_variants(*t.captions)) for t in reader.triplets]
        return bench
    for category in categories:
        queries = [EvalQuery(t.candidate, fiq_caption(*t.captions, mode="eval"), t.target)
                   for t in reader.triplets_of(category)]
        bench.evals.append(EvalSplit(category, queries, reader.gallery(protocol, category=category)))
    return bench


def cirr(data_root: str | Path, split: str) -> Benchmark:
    """CIRR rc2: raw captions, hard targets; evaluation removes the reference and ranks within the group too."""
    reader = CIRR(Path(data_root) / "cirr_dataset", split)
    bench = Benchmark("cirr", "cirr.rc2", split, reader.image_path, readers=[reader])
    if split == "train":
        bench.train = [TrainTriplet(t.reference, t.target, (t.caption,)) for t in reader.queries]
        return bench
    queries = [EvalQuery(t.reference, t.caption, t.target, tuple(t.members), t.pairid) for t in reader.queries]
    bench.evals.append(EvalSplit("cirr", queries, reader.gallery("cirr.rc2"), exclude_reference=True))
    return bench


def shoes(data_root: str | Path, split: str) -> Benchmark:
    """Shoes: raw captions (as FashionERN); `val` is the test set, reference not removed."""
    reader = Shoes(Path(data_root) / "shoes", split)
    bench = Benchmark("shoes", "shoes.val", split, reader.image_path, readers=[reader])
    if split == "train":
        bench.train = [TrainTriplet(t.reference, t.target, (t.caption,)) for t in reader.queries]
        return bench
    queries = [EvalQuery(t.reference, t.caption, t.target) for t in reader.queries]
    bench.evals.append(EvalSplit("shoes", queries, reader.gallery("shoes.val")))
    return bench


def fashion200k(data_root: str | Path, split: str, seed: int = 0) -> Benchmark:
    """Fashion200k (TIRG protocol): modifier texts; a retrieved image is a hit when its caption is the target's.

    The reference global feature comes from the reference image itself (the original looked it up by
    caption); the reference is not removed from the ranking (as the original).
    """
    reader = Fashion200k(Path(data_root) / "fashion200k", split, seed=seed)
    bench = Benchmark("fashion200k", "f200k.tirg", reader.split, reader.image_path, readers=[reader])
    if split == "train":
        bench.train = [TrainTriplet(p.reference, p.target, (p.modifier,)) for p in reader.queries]
        return bench
    queries = [EvalQuery(p.reference, p.modifier, p.target, target_key=p.target_caption) for p in reader.queries]
    bench.evals.append(EvalSplit("fashion200k", queries, reader.gallery("f200k.tirg"), hit_key=reader.caption_of))
    return bench


BUILDERS = {"fashioniq": fashioniq, "cirr": cirr, "shoes": shoes, "fashion200k": fashion200k}
