"""ERN: the FashionERN model (optional TME text side, DVR query side, SR + Combiner target side)."""
from __future__ import annotations

import torch
from torch import nn

from fashionern.models.fusion_model import DVR_module, CombinerSimple, VisualSR
from fashionern.models.tme import TME


class ERN(nn.Module):
    """FashionERN over frozen, pre-extracted CLIP features.

    Parameter names follow the authors' `{dataset}-best.pth` (`DVR.*`, `SR_module.*`,
    `Combiner_module.*`); the reconstructed TME, when present, lives under `TME.*`. The CLIP
    itself is not part of this module (its features are cached once; see README).

    Modes: "text" -> TME(text ids, reference patches) = (global, seq, align);
    "index" -> gallery embedding; "test" -> query embedding; "train" -> (query, target), or with
    TME and `text` ids given (text features computed inside, one forward for DDP) -> (query, target, align).
    """

    def __init__(self, feature_dim: int, tme: TME | None = None):
        super().__init__()
        self.feature_dim = feature_dim
        if tme is not None:
            self.TME = tme
        self.DVR = DVR_module(feature_dim=feature_dim)
        self.SR_module = VisualSR(embed_dim=feature_dim)
        self.Combiner_module = CombinerSimple(feature_dim, feature_dim * 4, feature_dim * 8)

    @property
    def has_tme(self) -> bool:
        return hasattr(self, "TME")

    def forward(self, text: torch.Tensor | None = None, ref_feats: torch.Tensor | None = None,
                ref_local_feats: torch.Tensor | None = None, text_feats: torch.Tensor | None = None,
                text_seq_feats: torch.Tensor | None = None, tar_feats: torch.Tensor | None = None,
                tar_local_feats: torch.Tensor | None = None, mode: str = "train"):
        if mode == "text":
            if not self.has_tme:
                raise RuntimeError("ERN: mode 'text' needs a TME (model built with --no-tme)")
            return self.TME(text, ref_local_feats)
        if mode == "index":
            return self.Combiner_module(tar_feats, self.SR_module(tar_local_feats))
        if mode == "test":
            return self.DVR(ref_local_feats, text_seq_feats, ref_feats, text_feats)
        if mode == "train":
            align = None
            if text is not None and self.has_tme:
                text_feats, text_seq_feats, align = self.TME(text, ref_local_feats)
            query = self.DVR(ref_local_feats, text_seq_feats, ref_feats, text_feats)
            target = self.Combiner_module(tar_feats, self.SR_module(tar_local_feats))
            return (query, target) if align is None else (query, target, align)
        raise ValueError(f"ERN: unknown mode '{mode}' (text, index, test, train)")
