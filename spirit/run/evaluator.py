"""Rank a gallery with SPIRIT and turn the rankings into each benchmark's metrics (model always in eval mode)."""
from dataclasses import dataclass

import torch

from common.metrics import cirr_report, fiq_report, recall_report, shoes_avg
from common.retrieval import rank_gallery, rank_subsets
from spirit.dataloader.image_features import ImageFeatures
from spirit.dataloader.records import EvalSet
from spirit.dataloader.text_features import TextFeatureCache
from spirit.models import SPIRIT

TOP_K = 50


@dataclass
class Rankings:
    """Top-k gallery names per query, and CIRR's ranking inside each query's group."""

    ranked: list[list[str]]
    subset_ranked: list[list[str]] | None = None


@torch.no_grad()
def embed_gallery(model: SPIRIT, features: ImageFeatures, names: list[str], device: torch.device,
                  batch_size: int = 256) -> torch.Tensor:
    """normalize([I_raw; LocalNet(P)]) for every gallery image, [G, 2D] on CPU."""
    out = []
    for start in range(0, len(names), batch_size):
        g, p = features.select(names[start:start + batch_size])
        out.append(model.target(g.to(device), p.to(device)).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def embed_queries(model: SPIRIT, features: ImageFeatures, texts: TextFeatureCache, eval_set: EvalSet,
                  device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """Combiner2([I_ref; LocalNet(P_ref)], [T; T]) for every query, [Q, 2D] on CPU."""
    out = []
    for start in range(0, len(eval_set.references), batch_size):
        g, p = features.select(eval_set.references[start:start + batch_size])
        t = texts(eval_set.texts[start:start + batch_size])
        out.append(model.query(g.to(device), t.to(device), p.to(device)).float().cpu())
    return torch.cat(out)


def rank(model: SPIRIT, features: ImageFeatures, texts: TextFeatureCache, eval_set: EvalSet,
         device: torch.device, batch_size: int = 256, k: int = TOP_K) -> Rankings:
    """Rank `eval_set.gallery` for every query (switches the model to eval mode and restores it)."""
    was_training = model.training
    model.eval()
    try:
        gallery = embed_gallery(model, features, eval_set.gallery, device, batch_size)
        queries = embed_queries(model, features, texts, eval_set, device, batch_size)
    finally:
        model.train(was_training)
    exclude = eval_set.references if eval_set.exclude_reference else None
    ranked = rank_gallery(queries, gallery, eval_set.gallery, k, exclude_names=exclude)
    subset = None
    if eval_set.groups is not None:
        subset = rank_subsets(queries, gallery, eval_set.gallery, eval_set.groups, exclude_names=exclude)
    return Rankings(ranked, subset)


def metrics_for(dataset: str, eval_sets: list[EvalSet], rankings: list[Rankings]) -> dict[str, float]:
    """The metric keys of docs/CORE_API.md for `dataset` ("fashioniq", "shoes", "cirr", "fashion200k")."""
    if dataset == "fashioniq":
        return fiq_report({s.name: recall_report(r.ranked, s.targets, (1, 5, 10, 50)) for s, r in zip(eval_sets, rankings)})
    (eval_set,), (ranking,) = eval_sets, rankings
    if dataset == "shoes":
        report = recall_report(ranking.ranked, eval_set.targets, (1, 10, 50))
        report["avg"] = shoes_avg(report)
        return report
    if dataset == "cirr":
        return cirr_report(ranking.ranked, ranking.subset_ranked, [t[0] for t in eval_set.targets], eval_set.groups)
    if dataset == "fashion200k":
        return recall_report(ranking.ranked, eval_set.targets, (1, 10, 50))
    raise ValueError(f"metrics_for: unknown dataset {dataset!r}")


def prediction_rows(eval_set: EvalSet, ranking: Rankings) -> list[dict]:
    """Rows for common.viewer.save_predictions."""
    return [{"reference": ref, "text": text, "targets": list(targets), "ranked": ranked[:10]}
            for ref, text, targets, ranked in zip(eval_set.references, eval_set.texts, eval_set.targets, ranking.ranked)]
