"""Zero-shot CIR evaluation shared by the textual-inversion methods: rankings and metrics on FashionIQ, CIRR, CIRCO, GeneCIS.

A method plugs in through a `QueryEncoder`: `gallery(names, image_path, load_image)` gives image features
[G, D] and `queries(references, texts, image_path, load_image)` gives composed query features [Q, D]
(L2-normalised). `load_image(name)` is given where a benchmark needs more than opening the file (GeneCIS
attribute crops). Every `evaluate_*` returns `(metrics, predictions, coverage)`: predictions are the rows of
`common.viewer.save_predictions`; coverage is `common.data.check_coverage` plus `queries` / `queries_total`. A
dataset with missing images is refused unless `allow_partial`, which drops (and counts) the queries touching them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from PIL import Image

from common.data import CIRCO, CIRR, FashionIQ, check_coverage, fiq_caption
from common.data.base import BenchmarkReader
from common.data.genecis import GeneCIS
from common.metrics import circo_report, cirr_report, fiq_report, genecis_report, recall_report
from common.retrieval import rank_gallery, rank_subsets

FIQ_CATEGORIES = ("dress", "shirt", "toptee")
GENECIS_TASKS = ("focus_attribute", "change_attribute", "focus_object", "change_object")
ImagePath = Callable[[str], Path]
LoadImage = Callable[[str], Image.Image] | None
Evaluation = tuple[dict[str, float], list[dict], dict[str, Any]]
DATASETS = ("fashioniq", "cirr", "circo", "genecis")


class QueryEncoder(Protocol):
    def gallery(self, names: Sequence[str], image_path: ImagePath, load_image: LoadImage = None) -> torch.Tensor: ...

    def queries(self, references: Sequence[str], texts: Sequence[str], image_path: ImagePath,
                load_image: LoadImage = None) -> torch.Tensor: ...


def prediction_rows(references: Sequence[str | None], texts: Sequence[str], targets: Sequence[Sequence[str]],
                    ranked: Sequence[Sequence[str]]) -> list[dict]:
    """Viewer rows: reference, text, targets and the top-10."""
    return [{"reference": r, "text": t, "targets": list(g), "ranked": list(k[:10])}
            for r, t, g, k in zip(references, texts, targets, ranked)]


def present_images(reader: BenchmarkReader, allow_partial: bool) -> tuple[dict[str, Any], set[str]]:
    """`check_coverage` of the reader and the set of its missing images (raises on a partial dataset unless allowed)."""
    report = check_coverage(reader, allow_partial)
    return report, set(reader.missing_images()) if report["missing"] else set()


def query_coverage(report: dict[str, Any], used: int, total: int) -> dict[str, Any]:
    """The coverage record of a run: image coverage plus how many of the queries were evaluated."""
    return {**report, "queries": used, "queries_total": total}


def evaluate_fashioniq(enc: QueryEncoder, root: str | Path, categories: Sequence[str] = FIQ_CATEGORIES,
                       protocol: str = "fiq.original", caption_mode: str = "both",
                       allow_partial: bool = False) -> Evaluation:
    """Per-category R@1/5/10/50 on val plus averages.

    `caption_mode="both"` averages the queries of both caption orders (SEARLE, LinCIR, FTI4CIR); `"eval"` uses the
    single joined order CLIP4Cir evaluates (`fiq_caption(c1, c2, "eval")`, the training-free baselines).
    """
    if caption_mode not in ("both", "eval"):
        raise ValueError(f"evaluate_fashioniq: caption_mode must be 'both' or 'eval', got {caption_mode!r}")
    reader = FashionIQ(root, "val", categories)
    report, missing = present_images(reader, allow_partial)
    per_category, rows, used = {}, [], 0
    for category in categories:
        triplets = [t for t in reader.triplets_of(category) if t.candidate not in missing and t.target not in missing]
        used += len(triplets)
        names = [n for n in reader.gallery(protocol, category=category) if n not in missing]
        gallery = enc.gallery(names, reader.image_path)
        references = [t.candidate for t in triplets]
        if caption_mode == "both":
            texts, reverse = zip(*(fiq_caption(*t.captions, mode="both") for t in triplets))
            queries = F.normalize(enc.queries(references, texts, reader.image_path)
                                  + enc.queries(references, reverse, reader.image_path), dim=-1)
        else:
            texts = [fiq_caption(*t.captions, mode="eval") for t in triplets]
            queries = enc.queries(references, texts, reader.image_path)
        ranked = rank_gallery(queries, gallery, names, 50)
        targets = [t.target for t in triplets]
        per_category[category] = recall_report(ranked, targets, (1, 5, 10, 50))
        rows += prediction_rows(references, texts, [[t] for t in targets], ranked)
    return fiq_report(per_category), rows, query_coverage(report, used, len(reader.triplets))


def cirr_kept(reader: CIRR, missing: set[str] = frozenset()) -> list:
    """The queries with no `missing` image among reference, target and group."""
    return [t for t in reader.queries if not (set(t.members) | {t.reference, t.target}) & missing]


def cirr_rankings(enc: QueryEncoder, reader: CIRR, missing: set[str] = frozenset()
                  ) -> tuple[list[list[str]], list[list[str]]]:
    """Top-50 over the split and the ranking inside each query's 6-image group, both without the reference, for
    `cirr_kept(reader, missing)`."""
    kept = cirr_kept(reader, missing)
    names = [n for n in reader.gallery() if n not in missing]
    gallery = enc.gallery(names, reader.image_path)
    references = [t.reference for t in kept]
    queries = enc.queries(references, [t.caption for t in kept], reader.image_path)
    ranked = rank_gallery(queries, gallery, names, 50, exclude_names=references)
    subset = rank_subsets(queries, gallery, names, [t.members for t in kept], exclude_names=references)
    return ranked, subset


def evaluate_cirr(enc: QueryEncoder, root: str | Path, allow_partial: bool = False, split: str = "val") -> Evaluation:
    """CIRR rc2 on a labelled split (`val`, the reported one; `train` is unseen by zero-shot methods and can serve
    them as a development set): R@1/5/10/50, Rsubset@1/2/3 and avg."""
    if split not in ("val", "train"):
        raise ValueError(f"evaluate_cirr: split must be a labelled split, 'val' or 'train', got {split!r}")
    reader = CIRR(root, split)
    report, missing = present_images(reader, allow_partial)
    kept = cirr_kept(reader, missing)
    ranked, subset = cirr_rankings(enc, reader, missing)
    targets = [t.target for t in kept]
    metrics = cirr_report(ranked, subset, targets, [list(t.members) for t in kept])
    rows = prediction_rows([t.reference for t in kept], [t.caption for t in kept], [[t] for t in targets], ranked)
    return metrics, rows, query_coverage(report, len(kept), len(reader.queries))


def circo_kept(reader: CIRCO, missing: set[str] = frozenset()) -> list:
    """The queries whose reference and ground truths are all present."""
    return [q for q in reader.queries if q.reference not in missing and not set(q.gt_ids) & missing]


def circo_rankings(enc: QueryEncoder, reader: CIRCO, missing: set[str] = frozenset()) -> list[list[str]]:
    """Top-50 of `circo_kept(reader, missing)` over the COCO-unlabeled gallery (reference kept); the query uses the
    relative caption only."""
    kept = circo_kept(reader, missing)
    names = [n for n in reader.gallery("circo.relcap") if n not in missing]
    gallery = enc.gallery(names, reader.image_path)
    queries = enc.queries([q.reference for q in kept], [q.relative_caption for q in kept], reader.image_path)
    return rank_gallery(queries, gallery, names, 50)


def evaluate_circo(enc: QueryEncoder, root: str | Path, allow_partial: bool = False) -> Evaluation:
    """CIRCO val: mAP@5/10/25/50 and R@K on target_img_id."""
    reader = CIRCO(root, "val")
    report, missing = present_images(reader, allow_partial)
    kept = circo_kept(reader, missing)
    ranked = circo_rankings(enc, reader, missing)
    metrics = circo_report(ranked, [set(q.gt_ids) for q in kept], [q.target for q in kept])
    rows = prediction_rows([q.reference for q in kept], [q.relative_caption for q in kept],
                           [list(q.gt_ids) for q in kept], ranked)
    return metrics, rows, query_coverage(report, len(kept), len(reader.queries))


def genecis_key(image) -> str:
    """One name per distinct crop: attribute tasks crop the same image at several boxes."""
    return image.name if image.bbox is None else f"{image.name}@{','.join(f'{v:g}' for v in image.bbox)}"


def evaluate_genecis(enc: QueryEncoder, root: str | Path, task: str, allow_partial: bool = False) -> Evaluation:
    """GeneCIS R@1/2/3: each template ranks [target] + its gallery; attribute tasks use the official crops."""
    reader = GeneCIS(root, task)
    report, missing = present_images(reader, allow_partial)
    kept = [q for q in reader.queries if not {i.name for i in (q.reference, *q.candidates)} & missing]
    images = {genecis_key(i): i for q in kept for i in (q.reference, *q.candidates)}

    def image_path(key: str) -> Path:
        return reader.image_path(images[key].name)

    def load_image(key: str) -> Image.Image:
        return reader.load_image(images[key]).convert("RGB")

    keys = list(images)
    position = {k: i for i, k in enumerate(keys)}
    gallery = enc.gallery(keys, image_path, load_image)
    candidates = F.normalize(torch.stack([gallery[[position[genecis_key(c)] for c in q.candidates]] for q in kept]),
                             dim=-1)
    queries = enc.queries([genecis_key(q.reference) for q in kept], [q.condition for q in kept], image_path,
                          load_image)
    scores = torch.einsum("nd,ncd->nc", F.normalize(queries, dim=-1), candidates)
    order = scores.argsort(dim=1, descending=True).tolist()
    ranked = [[q.candidates[j].name for j in row] for q, row in zip(kept, order)]
    rows = prediction_rows([q.reference.name for q in kept], [q.condition for q in kept],
                           [[q.target.name] for q in kept], ranked)
    return genecis_report(scores), rows, query_coverage(report, len(kept), len(reader.queries))


def evaluate(enc: QueryEncoder, dataset: str, root: str | Path, task: str | None = None,
             allow_partial: bool = False) -> Evaluation:
    """Validation metrics, predictions and coverage on one benchmark (`genecis` needs a task)."""
    if dataset == "genecis":
        if task not in GENECIS_TASKS:
            raise ValueError(f"genecis needs a task in {GENECIS_TASKS}, got {task!r}")
        return evaluate_genecis(enc, root, task, allow_partial=allow_partial)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r} (expected one of {', '.join(DATASETS)})")
    return globals()[f"evaluate_{dataset}"](enc, root, allow_partial=allow_partial)
