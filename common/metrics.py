"""Retrieval metrics of the CIR benchmarks (Recall@K, Recall_subset@K, mAP@K, reports); all in percent."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch

FIQ_CATEGORIES = ("dress", "shirt", "toptee")
FINAL_TURN_KS = (1, 5, 10, 20)


def _as_target_set(target: str | Collection[str]) -> Collection[str]:
    return (target,) if isinstance(target, str) else target


def _check_lengths(ranked_ids: Sequence, other: Sequence, other_name: str) -> None:
    if len(ranked_ids) != len(other):
        raise ValueError(f"ranked_ids has {len(ranked_ids)} queries but {other_name} has {len(other)}")
    if len(ranked_ids) == 0:
        raise ValueError("no queries to evaluate")


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def recall_at_k(ranked_ids: Sequence[Sequence[str]], target_ids: Sequence[str | Collection[str]], k: int) -> float:
    """% of queries whose target is among their first `k` ranked ids.

    A target may be one id or a collection of acceptable ids (a hit if any of them is in the top k;
    Fashion200k counts every image carrying the target caption).
    """
    _check_k(k)
    _check_lengths(ranked_ids, target_ids, "target_ids")
    hits = 0
    for ranked, target in zip(ranked_ids, target_ids):
        accepted = _as_target_set(target)
        hits += any(name in accepted for name in ranked[:k])
    return 100.0 * hits / len(ranked_ids)


def subset_ranking(ranked: Sequence[str], group_members: Collection[str]) -> list[str]:
    """Keep, in rank order, only the ids of `ranked` that belong to the query's group."""
    members = set(group_members)
    return [name for name in ranked if name in members]


def recall_subset_at_k(ranked_ids: Sequence[Sequence[str]], target_ids: Sequence[str],
                       group_members: Sequence[Collection[str]], k: int) -> float:
    """CIRR Recall_subset@K: a ranking (reference already removed) restricted to the query's group.

    `ranked_ids` must hold every group member (a full ranking, or one already restricted to the group
    such as `common.retrieval.rank_subsets`); a truncated top-k ranking raises ValueError, as does a
    target outside its group (the official evaluation asserts both).
    """
    _check_k(k)
    _check_lengths(ranked_ids, target_ids, "target_ids")
    _check_lengths(ranked_ids, group_members, "group_members")
    hits = 0
    for i, (ranked, target, members) in enumerate(zip(ranked_ids, target_ids, group_members)):
        if target not in members:
            raise ValueError(f"query {i}: target {target!r} is not one of its group members")
        restricted = subset_ranking(ranked, members)
        if target not in restricted:
            raise ValueError(f"query {i}: target {target!r} is missing from its group-restricted ranking "
                             "(was the ranking truncated?)")
        hits += target in restricted[:k]
    return 100.0 * hits / len(ranked_ids)


def average_precision_at_k(ranked: Sequence[str], gt_ids: Collection[str], k: int) -> float:
    """CIRCO AP@K = (1 / min(K, |GT|)) * sum_{i<=K} P@i * rel_i, as a fraction in [0, 1]."""
    if not gt_ids:
        raise ValueError("a query has an empty ground-truth set")
    gt = set(gt_ids)
    hits, total = 0, 0.0
    for i, name in enumerate(ranked[:k], start=1):
        if name in gt:
            hits += 1
            total += hits / i
    return total / min(k, len(gt))


def map_at_k(ranked_ids: Sequence[Sequence[str]], gt_id_sets: Sequence[Collection[str]], k: int) -> float:
    """CIRCO mAP@K in percent (denominator min(K, |GT|) per query)."""
    _check_k(k)
    _check_lengths(ranked_ids, gt_id_sets, "gt_id_sets")
    total = sum(average_precision_at_k(r, g, k) for r, g in zip(ranked_ids, gt_id_sets))
    return 100.0 * total / len(ranked_ids)


def recall_report(ranked_ids: Sequence[Sequence[str]], target_ids: Sequence[str | Collection[str]],
                  ks: Sequence[int], prefix: str = "") -> dict[str, float]:
    """`{f"{prefix}R@{k}": recall}` for every k."""
    return {f"{prefix}R@{k}": recall_at_k(ranked_ids, target_ids, k) for k in ks}


def fiq_report(per_category: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Flatten FashionIQ per-category recalls and add averages.

    `per_category = {"dress": {"R@10": .., "R@50": ..}, ...}` ->
    `{"dress_R@10", ..., "average_R@10", "average_R@50", "avg"}`; `avg` = (average_R@10 + average_R@50)/2.
    Every category must report the same keys, and R@10 and R@50 must be among them.
    """
    if not per_category:
        raise ValueError("fiq_report: no categories")
    keys = None
    report: dict[str, float] = {}
    for category, recalls in per_category.items():
        if keys is None:
            keys = list(recalls)
        elif set(recalls) != set(keys):
            raise ValueError(f"fiq_report: category {category!r} reports {sorted(recalls)}, expected {sorted(keys)}")
        for key, value in recalls.items():
            report[f"{category}_{key}"] = float(value)
    for key in keys:
        report[f"average_{key}"] = sum(float(r[key]) for r in per_category.values()) / len(per_category)
    missing = [k for k in ("R@10", "R@50") if k not in keys]
    if missing:
        raise ValueError(f"fiq_report: missing {missing} needed for avg")
    report["avg"] = (report["average_R@10"] + report["average_R@50"]) / 2
    return report


def shoes_avg(recalls: Mapping[str, float]) -> float:
    """Shoes/FashionIQ-style selection metric (R@10 + R@50) / 2."""
    return (recalls["R@10"] + recalls["R@50"]) / 2


def cirr_avg(recalls: Mapping[str, float]) -> float:
    """CIRR convention Avg = (R@5 + Rsubset@1) / 2."""
    return (recalls["R@5"] + recalls["Rsubset@1"]) / 2


def cirr_report(ranked_ids: Sequence[Sequence[str]], subset_ranked_ids: Sequence[Sequence[str]],
                target_ids: Sequence[str], group_members: Sequence[Collection[str]]) -> dict[str, float]:
    """CIRR R@1/5/10/50 (from reference-removed top-k rankings), Rsubset@1/2/3 (from group rankings) and avg."""
    report = recall_report(ranked_ids, target_ids, (1, 5, 10, 50))
    for k in (1, 2, 3):
        report[f"Rsubset@{k}"] = recall_subset_at_k(subset_ranked_ids, target_ids, group_members, k)
    report["avg"] = cirr_avg(report)
    return report


def circo_report(ranked_ids: Sequence[Sequence[str]], gt_id_sets: Sequence[Collection[str]],
                 target_ids: Sequence[str]) -> dict[str, float]:
    """CIRCO mAP@5/10/25/50 plus the auxiliary R@K on `target_img_id`."""
    report = {f"mAP@{k}": map_at_k(ranked_ids, gt_id_sets, k) for k in (5, 10, 25, 50)}
    report.update(recall_report(ranked_ids, target_ids, (5, 10, 25, 50)))
    return report


def genecis_recall(scores: torch.Tensor, k: int) -> float:
    """GeneCIS Recall@K: `scores` [N, C] over `[target] + gallery` candidates (target at column 0).

    The target's rank counts every other candidate scoring >= it (ties are resolved against the
    target), so a constant scorer cannot score above chance.
    """
    _check_k(k)
    if scores.ndim != 2 or scores.shape[1] < 2 or scores.shape[0] == 0:
        raise ValueError(f"genecis_recall: scores must be [N>0, C>=2], got {tuple(scores.shape)}")
    target = scores[:, :1]
    rank = (scores[:, 1:] >= target).sum(dim=1)
    return 100.0 * (rank < k).float().mean().item()


def genecis_report(scores: torch.Tensor) -> dict[str, float]:
    """GeneCIS R@1, R@2, R@3."""
    return {f"R@{k}": genecis_recall(scores, k) for k in (1, 2, 3)}


def final_turn_recall(ranked_ids: Sequence[Sequence[str]], final_target_ids: Sequence[str],
                      ks: Sequence[int] = FINAL_TURN_KS) -> dict[str, float]:
    """FashionMT: recall on the final turn only (target tar3; tar1 for single-turn sets), and their mean.

    History and reference images stay in the gallery. Returns `{"R@1", "R@5", "R@10", "R@20", "mean"}`.
    """
    report = recall_report(ranked_ids, final_target_ids, ks)
    report["mean"] = sum(report.values()) / len(ks)
    return report
