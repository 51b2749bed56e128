"""Zero-shot CIR with FTI4CIR: composed query features, rankings and metrics for FashionIQ, CIRR and CIRCO."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from common.data import CIRR, FashionIQ, fiq_caption
from common.data.circo import CIRCO
from common.metrics import circo_report, cirr_report, recall_report
from common.retrieval import encode_gallery, rank_gallery, rank_subsets
from fti4cir.dataloader.features import image_features
from fti4cir.models.fti_network import FTI4CIR
from fti4cir.models.prompts import encode_composed_query

FIQ_CATEGORIES = ("dress", "shirt", "toptee")


@dataclass
class Retriever:
    """A frozen CLIP, a trained FTI4CIR and the preprocessing/caching settings of one evaluation run."""

    backbone: torch.nn.Module
    model: FTI4CIR
    transform: Callable
    transform_id: str
    cache_dir: Path | None
    batch_size: int = 64
    progress: Callable | None = None

    def gallery(self, names: Sequence[str], image_path: Callable[[str], Path]) -> torch.Tensor:
        """CLIP image features [G, D] of the gallery (cached)."""
        return encode_gallery(self.backbone, names, image_path, self.cache_dir, self.transform_id, self.batch_size,
                              transform=self.transform, progress=self.progress)

    @torch.no_grad()
    def queries(self, references: Sequence[str], texts: Sequence[str], image_path: Callable[[str], Path]
                ) -> torch.Tensor:
        """L2-normalised composed features [Q, D]: "a photo of * with * ... * but {text}" per reference."""
        names = sorted(set(references))
        position = {name: i for i, name in enumerate(names)}
        global_feat, patches = image_features(self.backbone, names, image_path, self.transform, self.transform_id,
                                              self.cache_dir, self.batch_size, progress=self.progress)
        device = self.backbone.device
        self.model.eval()
        out = []
        for start in range(0, len(references), self.batch_size):
            rows = torch.tensor([position[r] for r in references[start:start + self.batch_size]])
            words = self.model(global_feat[rows].to(device), patches[rows].to(device))
            out.append(encode_composed_query(self.backbone, words, texts[start:start + self.batch_size]).float())
        return F.normalize(torch.cat(out), dim=-1)


def _predictions(references, texts, targets, ranked) -> list[dict]:
    return [{"reference": r, "text": t, "targets": g, "ranked": k[:10]}
            for r, t, g, k in zip(references, texts, targets, ranked)]


def evaluate_fashioniq(retriever: Retriever, root: Path, categories: Sequence[str] = FIQ_CATEGORIES,
                       protocol: str = "fiq.original") -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Per-category R@1/5/10/50 on the val split; the query averages both caption orders (SEARLE/FTI4CIR)."""
    reader = FashionIQ(root, "val", categories)
    per_category, predictions = {}, []
    for category in categories:
        triplets = reader.triplets_of(category)
        names = reader.gallery(protocol, category=category)
        gallery = retriever.gallery(names, reader.image_path)
        references = [t.candidate for t in triplets]
        forward, reverse = zip(*(fiq_caption(*t.captions, mode="both") for t in triplets))
        queries = F.normalize(retriever.queries(references, forward, reader.image_path)
                              + retriever.queries(references, reverse, reader.image_path), dim=-1)
        ranked = rank_gallery(queries, gallery, names, 50)
        targets = [t.target for t in triplets]
        per_category[category] = recall_report(ranked, targets, (1, 5, 10, 50))
        predictions += _predictions(references, forward, [[t] for t in targets], ranked)
    return per_category, predictions


def cirr_rankings(retriever: Retriever, reader: CIRR) -> tuple[list[list[str]], list[list[str]]]:
    """Top-50 over the split (reference removed) and the ranking of each query's group (reference removed)."""
    names = reader.gallery()
    gallery = retriever.gallery(names, reader.image_path)
    references = [t.reference for t in reader.triplets]
    queries = retriever.queries(references, [t.caption for t in reader.triplets], reader.image_path)
    ranked = rank_gallery(queries, gallery, names, 50, exclude_names=references)
    subset = rank_subsets(queries, gallery, names, [t.members for t in reader.triplets], exclude_names=references)
    return ranked, subset


def evaluate_cirr(retriever: Retriever, root: Path) -> tuple[dict[str, float], list[dict]]:
    """CIRR val (rc2): R@1/5/10/50, Rsubset@1/2/3, avg."""
    reader = CIRR(root, "val")
    ranked, subset = cirr_rankings(retriever, reader)
    targets = [t.target for t in reader.triplets]
    metrics = cirr_report(ranked, subset, targets, [t.members for t in reader.triplets])
    return metrics, _predictions([t.reference for t in reader.triplets], [t.caption for t in reader.triplets],
                                 [[t] for t in targets], ranked)


def circo_rankings(retriever: Retriever, reader: CIRCO) -> list[list[str]]:
    """Top-50 over the COCO-unlabeled gallery (reference not removed); the query uses the relative caption."""
    names = reader.gallery()
    gallery = retriever.gallery(names, reader.image_path)
    queries = retriever.queries([q.reference for q in reader.queries], [q.relative_caption for q in reader.queries],
                                reader.image_path)
    return rank_gallery(queries, gallery, names, 50)


def evaluate_circo(retriever: Retriever, root: Path) -> tuple[dict[str, float], list[dict]]:
    """CIRCO val: mAP@5/10/25/50 and R@K on target_img_id."""
    reader = CIRCO(root, "val")
    ranked = circo_rankings(retriever, reader)
    metrics = circo_report(ranked, [set(q.gt_ids) for q in reader.queries], [q.target for q in reader.queries])
    return metrics, _predictions([q.reference for q in reader.queries], [q.relative_caption for q in reader.queries],
                                 [list(q.gt_ids) for q in reader.queries], ranked)
