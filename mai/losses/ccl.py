"""MAI's Cyclic Combination Loss (four one-way batch-based classification terms) and the token contrast loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

BBC_SCALE = 100.0  # fixed logit scale of the original's BBC_loss (temperature 0.01)


def bbc_loss(a: torch.Tensor, b: torch.Tensor, scale: float = BBC_SCALE) -> torch.Tensor:
    """One-way InfoNCE CE(scale · a bᵀ, arange(B)) over L2-normalised rows [B, D] (in-batch negatives)."""
    if a.shape != b.shape:
        raise ValueError(f"bbc_loss: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    logits = scale * a @ b.t()
    return F.cross_entropy(logits, torch.arange(a.shape[0], device=a.device))


def ccl_losses(f_query: torch.Tensor, f_target: torch.Tensor, f_target_caption: torch.Tensor,
               f_modifier: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four CCL terms of one turn, keyed as in the original's loss dict (all weight 1)."""
    return {
        "loss_fus2tar": bbc_loss(f_query, f_target),
        "loss_fus2cap": bbc_loss(f_query, f_target_caption),
        "loss_mod2fus": bbc_loss(f_modifier, f_target),
        "loss_mod2cap": bbc_loss(f_modifier, f_target_caption),
    }


def token_contrast_loss(f_query: torch.Tensor, target_tokens: torch.Tensor, temp: torch.Tensor) -> torch.Tensor:
    """Single-turn ("fiq" mode) loss: CE(max_k ⟨f_q, t_k⟩ / temp, arange(B)); f_q [B, D], tokens [B, K, D]."""
    sim = torch.einsum("qd,tkd->qtk", f_query, target_tokens).max(dim=-1).values
    return F.cross_entropy(sim / temp, torch.arange(f_query.shape[0], device=f_query.device))
