"""Restricting SPIRIT's training triplets and evaluation sets to the images on disk (`--allow-partial`)."""
from dataclasses import replace
from typing import Any

from common.data import check_coverage
from common.data.base import BenchmarkReader
from spirit.dataloader.records import EvalSet, TrainSet


def _missing(reader: BenchmarkReader, allow_partial: bool) -> tuple[dict[str, Any], set[str]]:
    """The coverage record, raising on a partial dataset unless allowed, and the missing image names."""
    report = check_coverage(reader, allow_partial)
    return report, set(reader.missing_images()) if report["missing"] else set()


def present_train_set(train_set: TrainSet, reader: BenchmarkReader, allow_partial: bool
                      ) -> tuple[TrainSet, dict[str, Any]]:
    """Triplets whose reference and target are both on disk, and the coverage record counting them."""
    report, missing = _missing(reader, allow_partial)
    if not missing:
        return train_set, report
    kept = [t for t in train_set.triplets if t.reference not in missing and t.target not in missing]
    return (replace(train_set, triplets=kept),
            {**report, "train_triplets": len(kept), "train_triplets_total": len(train_set.triplets)})


def present_eval_sets(eval_sets: list[EvalSet], reader: BenchmarkReader, allow_partial: bool
                      ) -> tuple[list[EvalSet], dict[str, Any]]:
    """Each set without the queries touching a missing image (reference, any target, any group member) and
    without missing gallery images, and the coverage record counting the queries kept."""
    report, missing = _missing(reader, allow_partial)
    if not missing:
        return eval_sets, report
    kept_sets = []
    for s in eval_sets:
        keep = [i for i, reference in enumerate(s.references)
                if not ({reference, *s.targets[i], *(s.groups[i] if s.groups else ())} & missing)]

        def pick(values: list | None) -> list | None:
            return None if values is None else [values[i] for i in keep]
        kept_sets.append(replace(s, gallery=[g for g in s.gallery if g not in missing], references=pick(s.references),
                                 texts=pick(s.texts), targets=pick(s.targets), groups=pick(s.groups),
                                 query_ids=pick(s.query_ids)))
    return kept_sets, {**report, "queries": sum(len(s.references) for s in kept_sets),
                       "queries_total": sum(len(s.references) for s in eval_sets)}
