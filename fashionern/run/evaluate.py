"""FashionERN evaluation: gallery and query embeddings from cached features, rankings and per-protocol metrics."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from common.metrics import cirr_report, fiq_report, recall_at_k, recall_report, shoes_avg
from common.retrieval import rank_gallery
from fashionern.dataloader.benchmarks import Benchmark, EvalQuery, EvalSplit
from fashionern.dataloader.features import ImageFeatures, TextFeatures
from fashionern.models import ERN

FIQ_KS = {"fiq.original": (1, 5, 10, 50), "fiq.val_union": (1, 5, 10, 15, 20, 50)}
TOP = 50


@torch.no_grad()
def gallery_embeddings(model: ERN, images: ImageFeatures, names: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    """Target-side embeddings `[G, D]` (raw CLIP global + 13 patches -> SR + Combiner), unit norm."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(names), batch_size):
        glob, local = images.lookup(names[i:i + batch_size])
        out.append(model(tar_feats=glob.to(device), tar_local_feats=local.to(device), mode="index").cpu())
    return torch.cat(out)


def text_features(model: ERN, texts: TextFeatures, captions: Sequence[str], ref_local: torch.Tensor):
    """(global, sequence) text features: TME on the reference patches, or the cached frozen CLIP ones."""
    device = ref_local.device
    if model.has_tme:
        glob, seq, _ = model(text=texts.tokens(captions).to(device), ref_local_feats=ref_local, mode="text")
        return glob, seq
    glob, seq = texts.vanilla(captions)
    return glob.to(device), seq.to(device)


@torch.no_grad()
def query_embeddings(model: ERN, images: ImageFeatures, texts: TextFeatures, queries: Sequence[EvalQuery],
                     batch_size: int = 256) -> torch.Tensor:
    """Query-side embeddings `[Q, D]` (TME/CLIP text + DVR), unit norm."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(queries), batch_size):
        chunk = queries[i:i + batch_size]
        glob, local = (t.to(device) for t in images.lookup([q.reference for q in chunk]))
        text_glob, text_seq = text_features(model, texts, [q.caption for q in chunk], local)
        out.append(model(ref_feats=glob, ref_local_feats=local, text_feats=text_glob, text_seq_feats=text_seq,
                         mode="test").cpu())
    return torch.cat(out)


def subset_rankings(queries: torch.Tensor, gallery: torch.Tensor, names: Sequence[str],
                    split_queries: Sequence[EvalQuery]) -> list[list[str]]:
    """CIRR subset ranking: the group members without the reference, best first."""
    position = {n: i for i, n in enumerate(names)}
    ranked = []
    for q, query in enumerate(split_queries):
        members = [m for m in query.members if m != query.reference]
        scores = gallery[[position[m] for m in members]] @ queries[q]
        ranked.append([members[j] for j in scores.argsort(descending=True).tolist()])
    return ranked


def evaluate_split(model: ERN, split: EvalSplit, images: ImageFeatures, texts: TextFeatures,
                   ks: Sequence[int]) -> tuple[dict[str, float], list[list[str]]]:
    """Recall@K (and CIRR subset recall) of one split; returns (metrics, top-50 rankings)."""
    was_training = model.training
    model.eval()
    try:
        gallery = gallery_embeddings(model, images, split.gallery)
        queries = query_embeddings(model, images, texts, split.queries)
    finally:
        model.train(was_training)
    exclude = [q.reference for q in split.queries] if split.exclude_reference else None
    ranked = rank_gallery(queries, gallery, split.gallery, min(TOP, len(split.gallery)), exclude_names=exclude)
    if split.members_ranked():
        subset = subset_rankings(queries, gallery, split.gallery, split.queries)
        return cirr_report(ranked, subset, [q.target for q in split.queries],
                           [q.members for q in split.queries]), ranked
    if split.hit_key is not None:
        keyed = [[split.hit_key(name) for name in row] for row in ranked]
        return {f"R@{k}": recall_at_k(keyed, [q.target_key for q in split.queries], k) for k in ks}, ranked
    return recall_report(ranked, [q.target for q in split.queries], ks), ranked


def evaluate(model: ERN, bench: Benchmark, images: ImageFeatures, texts: TextFeatures) -> tuple[dict[str, float], dict]:
    """Metrics of a benchmark under its protocol (metric keys of docs/CORE_API.md) and rankings per split."""
    rankings = {}
    if bench.dataset == "fashioniq":
        per_category = {}
        for split in bench.evals:
            per_category[split.name], rankings[split.name] = evaluate_split(model, split, images, texts,
                                                                            FIQ_KS[bench.protocol])
        return fiq_report(per_category), rankings
    (split,) = bench.evals
    metrics, rankings[split.name] = evaluate_split(model, split, images, texts, (1, 5, 10, 50))
    if bench.dataset == "shoes":
        metrics["avg"] = shoes_avg(metrics)
    return metrics, rankings


def selection_metric(metrics: dict[str, float]) -> float:
    """The original's model-selection number: FIQ/Shoes (R@10+R@50)/2, CIRR (R@5+Rsubset@1)/2, F200k the same as Shoes."""
    return metrics["avg"] if "avg" in metrics else shoes_avg(metrics)
