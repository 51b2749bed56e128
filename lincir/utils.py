"""Zero-shot evaluation of a Phi: pseudo tokens from image features, `"a photo of $ that {text}"`, ranking, metrics."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from common.clip import ClipBackbone, get_transform
from common.data import CIRCO, CIRR, FashionIQ, coverage, fiq_caption
from common.data.genecis import GeneCIS
from common.metrics import circo_report, cirr_report, fiq_report, genecis_report, recall_report
from common.retrieval import encode_gallery, rank_gallery, rank_subsets
from common.phi import Phi

PROMPT = "a photo of $ that {}"
FIQ_CATEGORIES = ("dress", "shirt", "toptee")
GENECIS_TASKS = ("focus_attribute", "change_attribute", "focus_object", "change_object")


class PhiQueryEncoder:
    """Encodes (reference image feature, relative text) pairs as LinCIR queries, in batches, without gradients."""

    def __init__(self, clip: ClipBackbone, phi: Phi, l2_normalize: bool = False, batch_size: int = 64):
        self.clip, self.phi, self.l2_normalize, self.batch_size = clip, phi, l2_normalize, batch_size

    @torch.no_grad()
    def pseudo_tokens(self, image_features: torch.Tensor) -> torch.Tensor:
        x = F.normalize(image_features, dim=-1) if self.l2_normalize else image_features
        return self.phi(x.to(self.clip.device))

    @torch.no_grad()
    def __call__(self, image_features: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        if len(texts) != image_features.shape[0]:
            raise ValueError(f"{len(texts)} texts for {image_features.shape[0]} reference features")
        self.phi.eval()
        out = []
        for s in range(0, len(texts), self.batch_size):
            tokens = self.pseudo_tokens(image_features[s:s + self.batch_size])
            ids = self.clip.tokenize([PROMPT.format(t) for t in texts[s:s + self.batch_size]]).to(self.clip.device)
            out.append(self.clip.encode_text_with_pseudo_tokens(ids, tokens, placeholder="$", mode="all").float().cpu())
        return F.normalize(torch.cat(out), dim=-1)


class _ImageFeatures:
    """Image features of one reader, cached on disk, looked up by name."""

    def __init__(self, clip: ClipBackbone, reader, preprocess_type: str, cache_dir: str | os.PathLike | None):
        self.clip, self.reader, self.cache_dir = clip, reader, cache_dir
        self.transform = get_transform(preprocess_type, clip.image_size)
        self.transform_id = f"{preprocess_type}-{clip.image_size}"

    def __call__(self, names: Sequence[str]) -> torch.Tensor:
        return encode_gallery(self.clip, list(names), self.reader.image_path, self.cache_dir, self.transform_id,
                              transform=self.transform)


def _lookup(features: torch.Tensor, names: Sequence[str], wanted: Sequence[str]) -> torch.Tensor:
    position = {n: i for i, n in enumerate(names)}
    return features[[position[w] for w in wanted]]


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def evaluate_cirr(enc: PhiQueryEncoder, root: str | os.PathLike, split: str = "val", preprocess_type: str = "clip",
                  cache_dir=None) -> tuple[dict, list[dict], dict]:
    reader = CIRR(root, split)
    feats = _ImageFeatures(enc.clip, reader, preprocess_type, cache_dir)
    names = reader.gallery()
    gallery = feats(names)
    refs = [q.reference for q in reader.queries]
    queries = enc(_lookup(gallery, names, refs), [q.caption for q in reader.queries])
    ranked = rank_gallery(queries, gallery, names, 50, exclude_names=refs)
    subset = rank_subsets(queries, gallery, names, [q.members for q in reader.queries], exclude_names=refs)
    rows = [{"reference": q.reference, "text": q.caption, "targets": [q.target] if q.target else [], "ranked": r}
            for q, r in zip(reader.queries, ranked)]
    if split != "val":
        return {}, rows, {"ranked": ranked, "subset": subset, "pairids": [q.pairid for q in reader.queries]}
    metrics = cirr_report(ranked, subset, [q.target for q in reader.queries], [q.members for q in reader.queries])
    return metrics, rows, coverage(reader)


def evaluate_fashioniq(enc: PhiQueryEncoder, root: str | os.PathLike, preprocess_type: str = "clip",
                       cache_dir=None, protocol: str = "fiq.original") -> tuple[dict, list[dict], dict]:
    reader = FashionIQ(root, "val", categories=FIQ_CATEGORIES)
    feats = _ImageFeatures(enc.clip, reader, preprocess_type, cache_dir)
    per_category, rows = {}, []
    for category in FIQ_CATEGORIES:
        triplets = reader.triplets_of(category)
        names = reader.gallery(protocol, category=category)
        gallery = feats(names)
        refs = [t.candidate for t in triplets]
        ref_names = _unique(refs)
        ref_feats = _lookup(feats(ref_names), ref_names, refs)
        forward, backward = zip(*(fiq_caption(*t.captions, mode="both") for t in triplets))
        # SEARLE/LinCIR: average the two caption orders, each normalised, then normalise again
        queries = F.normalize(enc(ref_feats, forward) + enc(ref_feats, backward), dim=-1)
        ranked = rank_gallery(queries, gallery, names, 50)
        per_category[category] = recall_report(ranked, [t.target for t in triplets], (1, 5, 10, 50))
        rows += [{"reference": t.candidate, "text": f, "targets": [t.target], "ranked": r}
                 for t, f, r in zip(triplets, forward, ranked)]
    return fiq_report(per_category), rows, coverage(reader)


def evaluate_circo(enc: PhiQueryEncoder, root: str | os.PathLike, split: str = "val", preprocess_type: str = "clip",
                   cache_dir=None) -> tuple[dict, list[dict], dict]:
    reader = CIRCO(root, split)
    feats = _ImageFeatures(enc.clip, reader, preprocess_type, cache_dir)
    names = reader.gallery()
    gallery = feats(names)
    refs = [q.reference for q in reader.queries]
    queries = enc(_lookup(gallery, names, refs), [q.relative_caption for q in reader.queries])
    ranked = rank_gallery(queries, gallery, names, 50)
    rows = [{"reference": q.reference, "text": q.relative_caption, "targets": list(q.gt_ids), "ranked": r}
            for q, r in zip(reader.queries, ranked)]
    if split != "val":
        return {}, rows, {"ranked": ranked, "query_ids": [q.query_id for q in reader.queries]}
    metrics = circo_report(ranked, [set(q.gt_ids) for q in reader.queries], [q.target for q in reader.queries])
    return metrics, rows, coverage(reader)


def _genecis_key(image) -> str:
    return image.name if image.bbox is None else f"{image.name}@{','.join(f'{v:g}' for v in image.bbox)}"


def evaluate_genecis(enc: PhiQueryEncoder, root: str | os.PathLike, task: str, preprocess_type: str = "clip",
                     cache_dir=None) -> tuple[dict, list[dict], dict]:
    """Each template ranks [target] + gallery; attribute tasks encode the official dilated instance crops."""
    reader = GeneCIS(root, task)
    images = {}
    for q in reader.queries:
        for image in (q.reference, *q.candidates):
            images.setdefault(_genecis_key(image), image)
    keys = sorted(images)
    transform = get_transform(preprocess_type, enc.clip.image_size)
    feats = encode_gallery(enc.clip, keys, lambda k: reader.image_path(images[k].name), cache_dir,
                           f"{preprocess_type}-{enc.clip.image_size}-genecis-crop", transform=transform,
                           load_image=lambda k: reader.load_image(images[k]).convert("RGB"))
    refs = [_genecis_key(q.reference) for q in reader.queries]
    queries = enc(_lookup(feats, keys, refs), [q.condition for q in reader.queries])
    gallery = F.normalize(feats, dim=-1)
    scores, rows = [], []
    for q, query in zip(reader.queries, queries):
        candidates = [_genecis_key(c) for c in q.candidates]
        s = _lookup(gallery, keys, candidates) @ query
        scores.append(s)
        order = torch.argsort(s, descending=True).tolist()
        rows.append({"reference": q.reference.name, "text": q.condition, "targets": [q.target.name],
                     "ranked": [q.candidates[i].name for i in order]})
    return genecis_report(torch.stack(scores)), rows, coverage(reader)


def image_paths(root: str | os.PathLike, dataset: str, rows: list[dict], task: str | None = None) -> dict[str, Path]:
    """Paths of every image a predictions table mentions (for the viewer)."""
    reader = {"cirr": lambda: CIRR(root, "val"), "fashioniq": lambda: FashionIQ(root, "val"),
              "circo": lambda: CIRCO(root, "val"), "genecis": lambda: GeneCIS(root, task)}[dataset]()
    used = {n for r in rows for n in [r["reference"], *r["targets"], *r["ranked"]] if n}
    return {n: reader.image_path(n) for n in used}


def evaluate_phi(clip: ClipBackbone, phi: Phi, dataset: str, root: str | os.PathLike, l2_normalize: bool = False,
                 preprocess_type: str = "clip", cache_dir=None, task: str | None = None) -> tuple[dict, list[dict]]:
    """Validation metrics of `phi` on one benchmark's val split, and the per-query rows for the viewer."""
    enc = PhiQueryEncoder(clip, phi, l2_normalize)
    if dataset == "cirr":
        metrics, rows, _ = evaluate_cirr(enc, root, "val", preprocess_type, cache_dir)
    elif dataset == "fashioniq":
        metrics, rows, _ = evaluate_fashioniq(enc, root, preprocess_type, cache_dir)
    elif dataset == "circo":
        metrics, rows, _ = evaluate_circo(enc, root, "val", preprocess_type, cache_dir)
    elif dataset == "genecis":
        metrics, rows, _ = evaluate_genecis(enc, root, task, preprocess_type, cache_dir)
    else:
        raise ValueError(f"unknown dataset {dataset!r} (expected cirr, fashioniq, circo or genecis)")
    return metrics, rows
