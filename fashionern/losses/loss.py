"""FashionERN loss: batch-based classification (query -> target cross-entropy, logit scale 100)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LOGIT_SCALE = 100.0


class BatchBasedClassificationLoss(nn.Module):
    """CE(scale · normalize(q) @ normalize(t)^T, arange(B)); in-batch negatives, one direction."""

    def __init__(self, scale: float = LOGIT_SCALE):
        super().__init__()
        self.scale = scale

    def forward(self, query: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = self.scale * F.normalize(query, dim=-1) @ F.normalize(target, dim=-1).t()
        return F.cross_entropy(logits, torch.arange(query.shape[0], device=query.device))
