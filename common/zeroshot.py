"""Zero-shot CIR evaluation shared by the textual-inversion methods: rankings and metrics on FashionIQ, CIRR, CIRCO, GeneCIS.

A method plugs in through a `QueryEncoder`: `gallery(names, image_path, load_image)` gives image features
[G, D] and `queries(references, texts, image_path, load_image)` gives composed query features [Q, D]
(L2-normalised). `load_image(name)` is given where a benchmark needs more than opening the file (GeneCIS
attribute crops). Every `evaluate_*` returns `(metrics, predictions)`; predictions are the rows of
`common.viewer.save_predictions`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from PIL import Image

from common.data import CIRCO, CIRR, FashionIQ, fiq_caption
from common.data.genecis import GeneCIS
from common.metrics import circo_report, cirr_report, fiq_report, genecis_report, recall_report
from common.retrieval import rank_gallery, rank_subsets

FIQ_CATEGORIES = ("dress", "shirt", "toptee")
GENECIS_TASKS = ("focus_attribute", "change_attribute", "focus_object", "change_object")
ImagePath = Callable[[str], Path]
LoadImage = Callable[[str], Image.Image] | None


class QueryEncoder(Protocol):
    def gallery(self, names: Sequence[str], image_path: ImagePath, load_image: LoadImage = None) -> torch.Tensor: ...

    def queries(self, references: Sequence[str], texts: Sequence[str], image_path: ImagePath,
                load_image: LoadImage = None) -> torch.Tensor: ...


def prediction_rows(references: Sequence[str | None], texts: Sequence[str], targets: Sequence[Sequence[str]],
                    ranked: Sequence[Sequence[str]]) -> list[dict]:
    """Viewer rows: reference, text, targets and the top-10."""
    return [{"reference": r, "text": t, "targets": list(g), "ranked": list(k[:10])}
            for r, t, g, k in zip(references, texts, targets, ranked)]


def evaluate_fashioniq(enc: QueryEncoder, root: str | Path, categories: Sequence[str] = FIQ_CATEGORIES,
                       protocol: str = "fiq.original") -> tuple[dict[str, float], list[dict]]:
    """Per-category R@1/5/10/50 on val plus averages; the query averages both caption orders (SEARLE, LinCIR, FTI4CIR)."""
    reader = FashionIQ(root, "val", categories)
    per_category, rows = {}, []
    for category in categories:
        triplets = reader.triplets_of(category)
        names = reader.gallery(protocol, category=category)
        gallery = enc.gallery(names, reader.image_path)
        references = [t.candidate for t in triplets]
        forward, reverse = zip(*(fiq_caption(*t.captions, mode="both") for t in triplets))
        queries = F.normalize(enc.queries(references, forward, reader.image_path)
                              + enc.queries(references, reverse, reader.image_path), dim=-1)
        ranked = rank_gallery(queries, gallery, names, 50)
        targets = [t.target for t in triplets]
        per_category[category] = recall_report(ranked, targets, (1, 5, 10, 50))
        rows += prediction_rows(references, forward, [[t] for t in targets], ranked)
    return fiq_report(per_category), rows


def cirr_rankings(enc: QueryEncoder, reader: CIRR) -> tuple[list[list[str]], list[list[str]]]:
    """Top-50 over the split and the ranking inside each query's 6-image group, both without the reference."""
    names = reader.gallery()
    gallery = enc.gallery(names, reader.image_path)
    references = [t.reference for t in reader.queries]
    queries = enc.queries(references, [t.caption for t in reader.queries], reader.image_path)
    ranked = rank_gallery(queries, gallery, names, 50, exclude_names=references)
    subset = rank_subsets(queries, gallery, names, [t.members for t in reader.queries], exclude_names=references)
    return ranked, subset


def evaluate_cirr(enc: QueryEncoder, root: str | Path) -> tuple[dict[str, float], list[dict]]:
    """CIRR val (rc2): R@1/5/10/50, Rsubset@1/2/3 and avg."""
    reader = CIRR(root, "val")
    ranked, subset = cirr_rankings(enc, reader)
    targets = [t.target for t in reader.queries]
    metrics = cirr_report(ranked, subset, targets, [t.members for t in reader.queries])
    return metrics, prediction_rows([t.reference for t in reader.queries], [t.caption for t in reader.queries],
                                    [[t] for t in targets], ranked)


def circo_rankings(enc: QueryEncoder, reader: CIRCO) -> list[list[str]]:
    """Top-50 over the COCO-unlabeled gallery (reference kept); the query uses the relative caption only."""
    names = reader.gallery()
    gallery = enc.gallery(names, reader.image_path)
    queries = enc.queries([q.reference for q in reader.queries], [q.relative_caption for q in reader.queries],
                          reader.image_path)
    return rank_gallery(queries, gallery, names, 50)


def evaluate_circo(enc: QueryEncoder, root: str | Path) -> tuple[dict[str, float], list[dict]]:
    """CIRCO val: mAP@5/10/25/50 and R@K on target_img_id."""
    reader = CIRCO(root, "val")
    ranked = circo_rankings(enc, reader)
    metrics = circo_report(ranked, [set(q.gt_ids) for q in reader.queries], [q.target for q in reader.queries])
    return metrics, prediction_rows([q.reference for q in reader.queries], [q.relative_caption for q in reader.queries],
                                    [list(q.gt_ids) for q in reader.queries], ranked)


def genecis_key(image) -> str:
    """One name per distinct crop: attribute tasks crop the same image at several boxes."""
    return image.name if image.bbox is None else f"{image.name}@{','.join(f'{v:g}' for v in image.bbox)}"


def evaluate_genecis(enc: QueryEncoder, root: str | Path, task: str) -> tuple[dict[str, float], list[dict]]:
    """GeneCIS R@1/2/3: each template ranks [target] + its gallery; attribute tasks use the official crops."""
    reader = GeneCIS(root, task)
    images = {}
    for q in reader.queries:
        for image in (q.reference, *q.candidates):
            images.setdefault(genecis_key(image), image)
    keys = sorted(images)

    def image_path(key: str) -> Path:
        return reader.image_path(images[key].name)

    def load_image(key: str) -> Image.Image:
        return reader.load_image(images[key]).convert("RGB")

    position = {k: i for i, k in enumerate(keys)}
    gallery = F.normalize(enc.gallery(keys, image_path, load_image), dim=-1)
    queries = enc.queries([genecis_key(q.reference) for q in reader.queries], [q.condition for q in reader.queries],
                          image_path, load_image)
    scores, ranked = [], []
    for q, query in zip(reader.queries, queries):
        s = gallery[[position[genecis_key(c)] for c in q.candidates]] @ query
        scores.append(s)
        ranked.append([q.candidates[i].name for i in torch.argsort(s, descending=True).tolist()])
    rows = prediction_rows([q.reference.name for q in reader.queries], [q.condition for q in reader.queries],
                           [[q.target.name] for q in reader.queries], ranked)
    return genecis_report(torch.stack(scores)), rows
