"""Single-turn FashionIQ / CIRR for MAI's Q-Former (the model's `fiq` mode, SPRC protocol): triplets and evaluation."""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from common.data import CIRR, FashionIQ, fiq_caption
from common.metrics import cirr_report, fiq_report, recall_report
from common.viewer import save_predictions
from mai.dataloader.fashionmt import ImageTokens
from mai.dataloader.text import pre_caption
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt

# SPRC's `--dataset` values -> (folder under the data root, evaluation protocol, split validated on)
SINGLE_TURN = {"FashionIQ": ("fashion-iq", "fiq.original"), "CIRR": ("cirr_dataset", "cirr.rc2")}
FIQ_CATEGORIES = ("dress", "shirt", "toptee")
TOP_K = 50


@dataclass(frozen=True)
class Triplet:
    """reference --captions--> target; FashionIQ has two captions, CIRR one; `category` only for FashionIQ."""

    reference: str
    captions: tuple[str, ...]
    target: str
    category: str = ""


def open_single_turn(data_root: str | Path, dataset: str, split: str) -> FashionIQ | CIRR:
    """The common.data reader of a SPRC dataset name for `split` ("train" or "val")."""
    if dataset not in SINGLE_TURN:
        raise ValueError(f"--dataset must be one of {sorted(SINGLE_TURN)}, got {dataset!r}")
    root = Path(data_root) / SINGLE_TURN[dataset][0]
    return FashionIQ(root, split, FIQ_CATEGORIES) if dataset == "FashionIQ" else CIRR(root, split)


def triplets(reader: FashionIQ | CIRR) -> list[Triplet]:
    if isinstance(reader, FashionIQ):
        return [Triplet(t.candidate, t.captions, t.target, t.category) for t in reader.triplets]
    return [Triplet(t.reference, (t.caption,), t.target) for t in reader.triplets]


def query_text(captions: tuple[str, ...], train: bool, rng: random.Random) -> str:
    """SPRC's text: FashionIQ joins its two captions (random variant in training, "c1 and c2" in validation)."""
    if len(captions) == 2:
        return pre_caption(fiq_caption(*captions, mode="train" if train else "eval", rng=rng))
    return pre_caption(captions[0])


class TripletDataset(Dataset):
    """Training items {reference, target, text}; the FashionIQ caption variant is a function of (seed, epoch, index)."""

    def __init__(self, items: Sequence[Triplet], seed: int = 0):
        self.items, self.seed, self.epoch = list(items), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, str]:
        t = self.items[i]
        rng = random.Random(hash((self.seed, self.epoch, i)))
        return {"reference": t.reference, "target": t.target, "text": query_text(t.captions, True, rng)}


@torch.no_grad()
def scores(model: Blip2QformerCirAlignPrompt, tokens: ImageTokens, references: Sequence[str], texts: Sequence[str],
           gallery: Sequence[str], batch_size: int = 64) -> torch.Tensor:
    """[Q, G] similarity of the `fiq` mode: max over the 32 image-only target tokens of ⟨f_q, t_k⟩."""
    device = model.query_tokens.device
    targets = torch.cat([model.target_token_features(tokens(gallery[i:i + batch_size], device)).cpu()
                         for i in range(0, len(gallery), batch_size)])
    out = []
    for i in range(0, len(references), batch_size):
        refs, txt = list(references[i:i + batch_size]), list(texts[i:i + batch_size])
        f_q = model.msa(model.bsa(tokens(refs, device), txt), txt).cpu()
        out.append(torch.einsum("qd,gkd->qgk", f_q, targets).max(dim=-1).values)
    return torch.cat(out)


def _ranked(sim: torch.Tensor, gallery: Sequence[str], k: int) -> list[list[str]]:
    return [[gallery[j] for j in row] for row in sim.topk(min(k, sim.shape[1]), dim=1).indices.tolist()]


def evaluate_single_turn(model: Blip2QformerCirAlignPrompt, tokens: ImageTokens, reader: FashionIQ | CIRR,
                         predictions_dir: Path | None = None) -> dict[str, float]:
    """FashionIQ: per-category R@1/5/10/50 over `fiq.original` + averages; CIRR: R@K and Rsubset@K without the
    reference (`cirr.rc2`). `tokens` must cover the split's gallery and references."""
    was_training = model.training
    model.eval()
    rows = []
    if isinstance(reader, FashionIQ):
        per_category = {}
        for category in reader.categories:
            items = [t for t in triplets(reader) if t.category == category]
            gallery = reader.gallery("fiq.original", category=category)
            texts = [query_text(t.captions, False, random.Random(0)) for t in items]
            ranked = _ranked(scores(model, tokens, [t.reference for t in items], texts, gallery), gallery, TOP_K)
            per_category[category] = recall_report(ranked, [t.target for t in items], (1, 5, 10, 50))
            rows += [{"reference": t.reference, "text": x, "targets": [t.target], "ranked": r[:10]}
                     for t, x, r in zip(items, texts, ranked)]
        metrics, protocol = fiq_report(per_category), "fiq.original"
    else:
        items = reader.triplets
        gallery = reader.gallery("cirr.rc2")
        position = {n: i for i, n in enumerate(gallery)}
        texts = [pre_caption(t.caption) for t in items]
        sim = scores(model, tokens, [t.reference for t in items], texts, gallery)
        for q, t in enumerate(items):
            sim[q, position[t.reference]] = float("-inf")
        ranked = _ranked(sim, gallery, TOP_K)
        subset = []
        for q, t in enumerate(items):
            members = [m for m in t.members if m != t.reference]
            order = torch.argsort(sim[q, [position[m] for m in members]], descending=True, stable=True)
            subset.append([members[j] for j in order.tolist()])
        metrics = cirr_report(ranked, subset, [t.target for t in items], [list(t.members) for t in items])
        protocol = "cirr.rc2"
        rows = [{"reference": t.reference, "text": x, "targets": [t.target], "ranked": r[:10]}
                for t, x, r in zip(items, texts, ranked)]
    model.train(was_training)
    if predictions_dir is not None:
        used = {n for row in rows for n in (row["reference"], *row["targets"], *row["ranked"])}
        save_predictions(predictions_dir, protocol, rows, {n: reader.image_path(n) for n in used})
    return metrics


def selection_score(dataset: str, metrics: dict[str, float]) -> float:
    """SPRC's model selection: FashionIQ (average R@10 + average R@50) / 2; CIRR the mean of its 7 recalls."""
    if dataset == "FashionIQ":
        return metrics["avg"]
    keys = ("R@1", "R@5", "R@10", "R@50", "Rsubset@1", "Rsubset@2", "Rsubset@3")
    return sum(metrics[k] for k in keys) / len(keys)
