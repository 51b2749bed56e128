"""Adapters from the common.data readers to SPIRIT's training triplets and evaluation sets, one per benchmark.

Each `load_*` returns the records plus the reader(s), which give image paths and coverage.
Caption handling follows the original per dataset: FashionIQ joins its two captions (random at train
time, "{C1} and {c2}" at eval); Shoes strips and capitalises (applied at eval too, see README); CIRR
and Fashion200k use the text as written. Fashion200k: the gallery drops the label files' repeated
entries, a hit is any gallery image whose caption equals the target caption (TIRG), and the reference's
own features are used (the original looked the reference up by caption).
"""
import random
from pathlib import Path

from common.data import CIRR, Fashion200k, FashionIQ, Shoes, fiq_caption, fiq_train_variants
from common.data.base import BenchmarkReader
from common.data.parsing import unique
from spirit.dataloader.records import EvalSet, TrainSet, TrainTriplet

FIQ_CATEGORIES = ("dress", "shirt", "toptee")
FOLDERS = {"fashioniq": "fashion-iq", "shoes": "shoes", "cirr": "cirr_dataset", "fashion200k": "fashion200k"}


def _fiq_train_text(captions: tuple[str, ...], rng: random.Random) -> str:
    return fiq_caption(captions[0], captions[1], "train", rng)


def _fiq_variants(captions: tuple[str, ...]) -> tuple[str, ...]:
    return fiq_train_variants(captions[0], captions[1])


def shoes_caption(caption: str) -> str:
    """SPIRIT's `generate_shoes_caption`: strip '.?, ' and capitalise."""
    return caption.strip(".?, ").capitalize()


def _shoes_train_text(captions: tuple[str, ...], rng: random.Random) -> str:
    return shoes_caption(captions[0])


def _shoes_variants(captions: tuple[str, ...]) -> tuple[str, ...]:
    return (shoes_caption(captions[0]),)


def _as_written(captions: tuple[str, ...], rng: random.Random) -> str:
    return captions[0]


def _written_variants(captions: tuple[str, ...]) -> tuple[str, ...]:
    return (captions[0],)


def dataset_root(data_root: str | Path, dataset: str) -> Path:
    return Path(data_root) / FOLDERS[dataset]


def load_train_set(dataset: str, data_root: str | Path) -> tuple[TrainSet, BenchmarkReader]:
    """Training triplets of `dataset` ("fashioniq", "shoes", "cirr", "fashion200k") and the reader they came from."""
    root = dataset_root(data_root, dataset)
    if dataset == "fashioniq":
        reader = FashionIQ(root, "train", FIQ_CATEGORIES)
        triplets = [TrainTriplet(t.candidate, t.target, t.captions) for t in reader.triplets]
        return TrainSet(triplets, _fiq_train_text, _fiq_variants), reader
    if dataset == "cirr":
        reader = CIRR(root, "train")
        return TrainSet([TrainTriplet(t.reference, t.target, (t.caption,)) for t in reader.triplets], _as_written,
                        _written_variants), reader
    if dataset == "shoes":
        reader = Shoes(root, "train")
        return TrainSet([TrainTriplet(t.reference, t.target, (t.caption,)) for t in reader.queries],
                        _shoes_train_text, _shoes_variants), reader
    if dataset == "fashion200k":
        reader = Fashion200k(root, "train")
        return TrainSet([TrainTriplet(p.reference, p.target, (p.modifier,)) for p in reader.queries], _as_written,
                        _written_variants), reader
    raise ValueError(f"load_train_set: unknown dataset {dataset!r}")


def load_eval_sets(dataset: str, data_root: str | Path, split: str | None = None, protocol: str | None = None
                   ) -> tuple[list[EvalSet], BenchmarkReader]:
    """Evaluation query sets of `dataset` on its evaluation split (FashionIQ: one per category) and the reader."""
    root = dataset_root(data_root, dataset)
    if dataset == "fashioniq":
        reader = FashionIQ(root, split or "val", FIQ_CATEGORIES)
        sets = []
        for category in FIQ_CATEGORIES:
            triplets = reader.triplets_of(category)
            sets.append(EvalSet(category, reader.gallery(protocol, category=category),
                                [t.candidate for t in triplets],
                                [fiq_caption(*t.captions, mode="eval") for t in triplets],
                                [[t.target] for t in triplets]))
        return sets, reader
    if dataset == "cirr":
        reader = CIRR(root, split or "val")
        triplets = reader.triplets
        return [EvalSet(reader.split, reader.gallery(protocol), [t.reference for t in triplets],
                        [t.caption for t in triplets], [[t.target] if t.target else [] for t in triplets],
                        exclude_reference=True, groups=[list(t.members) for t in triplets],
                        query_ids=[str(t.pairid) for t in triplets])], reader
    if dataset == "shoes":
        reader = Shoes(root, split or "val")
        triplets = reader.queries
        return [EvalSet(reader.split, reader.gallery(protocol), [t.reference for t in triplets],
                        [shoes_caption(t.caption) for t in triplets], [[t.target] for t in triplets])], reader
    if dataset == "fashion200k":
        reader = Fashion200k(root, split or "test")
        gallery = unique(reader.gallery(protocol))
        by_caption: dict[str, list[str]] = {}
        for name in gallery:
            by_caption.setdefault(reader.caption_of(name), []).append(name)
        pairs = reader.queries
        return [EvalSet(reader.split, gallery, [p.reference for p in pairs], [p.modifier for p in pairs],
                        [by_caption.get(p.target_caption, []) for p in pairs])], reader
    raise ValueError(f"load_eval_sets: unknown dataset {dataset!r}")
