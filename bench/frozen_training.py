"""Benchmark 4: a training step from cached frozen-encoder features ÷ the same step recomputing those features.

Uses each method's own model, loss and feature code on synthetic CIRR val images and captions, batch 32.
"Recompute" = what the step costs without the cache: decoding, preprocessing and the frozen CLIP forward
(global + 13 patch crops, and the captions) for the batch's references and targets, then the same update.
FashionERN runs its `--no-tme` model (frozen CLIP text features; with TME the text side is trained).
FTI4CIR trains on the synthetic ImageNet-style images with their subject/attribute captions: cached = global
feature + patch tokens read from memory; recomputed = the frozen CLIP image forward for the batch each step.
LinCIR's frozen encoder is the text tower: only the target embedding of each caption can be cached; the
re-encoding with Phi's pseudo-token runs forward and backward through the tower in every step either way.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import torch

from bench.measure import Figure, paired_medians
from common.clip import load_clip
from common.clip4cir.patches import extract_global_features, extract_patch_features
from common.data import CIRR
from fashionern.dataloader.features import ImageFeatures as ErnImageFeatures
from fashionern.dataloader.features import TextFeatures as ErnTextFeatures
from fashionern.losses import BatchBasedClassificationLoss
from fashionern.models.model import ERN
from fashionern.models.tme import TextTower
from common.data.imagenet import ImageNetCaptions
from fti4cir.dataloader.features import image_features
from fti4cir.losses.fti_losses import fti4cir_loss
from fti4cir.models.fti_network import FTI4CIR, FTIConfig
from lincir.dataloader.captions import CaptionDataset
from lincir.losses.lincir_loss import add_scaled_noise, lincir_loss
from lincir.models.phi import build_phi
from lincir.utils import trim_to_eot
from spirit.dataloader.image_features import ImageFeatures, extract_image_features
from spirit.dataloader.text_features import TextFeatureCache
from spirit.losses.loss import batch_based_classification_loss
from spirit.models.spirit_model import SPIRIT

GOAL = 0.2
BATCH = 32


def _batch(reader: CIRR, batch: int) -> tuple[list[str], list[str], list[str]]:
    """A fixed batch of (references, targets, captions)."""
    triplets = random.Random(0).sample(reader.queries, min(batch, len(reader.queries)))
    return [t.reference for t in triplets], [t.target for t in triplets], [t.caption for t in triplets]


def _spirit_steps(backbone: torch.nn.Module, reader: CIRR, batch: int) -> tuple[Callable[[], None], Callable[[], None]]:
    references, targets, captions = _batch(reader, batch)
    names = list(dict.fromkeys(references + targets))
    bank = extract_image_features(backbone, names, reader.image_path, None)
    texts = TextFeatureCache(backbone)
    texts(captions)
    model = SPIRIT(feature_dim=backbone.embed_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def update(ref_g, ref_p, tgt_g, tgt_p, text) -> None:
        model.train()
        loss = batch_based_classification_loss(model(ref_g, text, ref_p, tgt_g, tgt_p).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def cached() -> None:
        update(*bank.select(references), *bank.select(targets), texts(captions))

    def recomputed() -> None:
        fresh = ImageFeatures(names, extract_global_features(backbone, names, reader.image_path, None),
                              extract_patch_features(backbone, names, reader.image_path, None))
        update(*fresh.select(references), *fresh.select(targets), TextFeatureCache(backbone)(captions))
    return cached, recomputed


def _fashionern_steps(backbone: torch.nn.Module, reader: CIRR, batch: int
                      ) -> tuple[Callable[[], None], Callable[[], None]]:
    references, targets, captions = _batch(reader, batch)
    names = list(dict.fromkeys(references + targets))
    tower = TextTower.from_backbone(backbone)
    images = ErnImageFeatures(backbone, names, reader.image_path, None)
    texts = ErnTextFeatures(backbone, captions, tower, vanilla=True)
    model = ERN(backbone.embed_dim)
    loss_fn = BatchBasedClassificationLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)

    def update(store: ErnImageFeatures, text: ErnTextFeatures) -> None:
        model.train()
        (ref_g, ref_l), (tgt_g, tgt_l) = store.lookup(references), store.lookup(targets)
        text_g, text_s = text.vanilla(captions)
        query, target = model(ref_feats=ref_g, ref_local_feats=ref_l, text_feats=text_g, text_seq_feats=text_s,
                              tar_feats=tgt_g, tar_local_feats=tgt_l, mode="train")
        loss = loss_fn(query, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def cached() -> None:
        update(images, texts)

    def recomputed() -> None:
        update(ErnImageFeatures(backbone, names, reader.image_path, None),
               ErnTextFeatures(backbone, captions, tower, vanilla=True))
    return cached, recomputed


def _lincir_steps(backbone: torch.nn.Module, reader: CIRR, batch: int
                  ) -> tuple[Callable[[], None], Callable[[], None]]:
    _, _, captions = _batch(reader, batch)
    pairs = CaptionDataset(captions, backbone.tokenize, backbone.placeholder_id("$"))
    original = trim_to_eot(torch.stack([pairs[i][0] for i in range(len(pairs))]))
    masked = trim_to_eot(torch.stack([pairs[i][1] for i in range(len(pairs))]))
    with torch.no_grad():
        targets = backbone.encode_text(original)
    phi = build_phi(backbone.embed_dim, backbone.text_width)
    optimizer = torch.optim.AdamW(phi.parameters(), lr=1e-4)

    def update(target: torch.Tensor) -> None:
        phi.train()
        reencoded = backbone.encode_text_with_pseudo_tokens(masked, phi(add_scaled_noise(target)), placeholder="$",
                                                            mode="all")
        loss = lincir_loss(reencoded, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def cached() -> None:
        update(targets)

    def recomputed() -> None:
        with torch.no_grad():
            target = backbone.encode_text(original)
        update(target)
    return cached, recomputed


def _fti4cir_steps(backbone: torch.nn.Module, reader: CIRR, batch: int
                   ) -> tuple[Callable[[], None], Callable[[], None]]:
    imagenet = ImageNetCaptions(Path(reader.root).parent / "imagenet", "test")
    pairs = random.Random(0).sample(imagenet.queries, min(batch, len(imagenet.queries)))
    names = [p.image_id for p in pairs]
    subjects, attributes = [p.subject for p in pairs], [p.attribute for p in pairs]

    def features() -> tuple[torch.Tensor, torch.Tensor]:
        return image_features(backbone, names, imagenet.image_path, backbone.preprocess, "bench", None, batch)
    cached_g, cached_p = features()
    model = FTI4CIR(FTIConfig(patch_dim=backbone.vision_width, embed_dim=backbone.embed_dim,
                              token_dim=backbone.text_width))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def update(g: torch.Tensor, p: torch.Tensor) -> None:
        model.train()
        loss = fti4cir_loss(backbone, model(g, p), g, subjects, attributes)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def cached() -> None:
        update(cached_g, cached_p)

    def recomputed() -> None:
        update(*features())
    return cached, recomputed


METHODS = {"SPIRIT": _spirit_steps, "FashionERN": _fashionern_steps, "FTI4CIR": _fti4cir_steps,
           "LinCIR": _lincir_steps}


def figures(data_root: Path, repeats: int = 3, backbone_name: str = "synthetic-tiny",
            backbone: torch.nn.Module | None = None, batch: int = BATCH) -> list[Figure]:
    """One row per method: median cached-step seconds ÷ median recomputing-step seconds.

    `backbone` (labelled `backbone_name`) replaces `load_clip(backbone_name)`, e.g. a full-size random-weight CLIP.
    """
    backbone = (backbone if backbone is not None else load_clip(backbone_name)).eval()
    reader = CIRR(Path(data_root) / "cirr_dataset", "val")
    rows = []
    for method, build in METHODS.items():
        cached, recomputed = build(backbone, reader, batch)
        cached_s, recomputed_s = paired_medians(cached, recomputed, repeats)
        rows.append(Figure(f"frozen-encoder training step ({method}, {backbone_name})", cached_s / recomputed_s,
                           GOAL, details={"cached_step_s": cached_s, "recomputing_step_s": recomputed_s,
                                          "batch": batch}))
    return rows
