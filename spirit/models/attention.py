"""Attention-on-Attention, the AoA self-attention wrapper and the SGRAF-style attention filtration of SPIRIT."""

import numpy as np
import torch
from torch import nn


def l1norm(x: torch.Tensor, dim: int, eps: float = 1e-8) -> torch.Tensor:
    """Divide by the L1 norm along `dim` (eps added to the norm, as the original)."""
    return x / (x.abs().sum(dim=dim, keepdim=True) + eps)


def l2norm(x: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """Divide by the L2 norm along `dim` (eps added to the norm, as the original)."""
    return x / (x.pow(2).sum(dim=dim, keepdim=True).sqrt() + eps)


def xavier_uniform_linear_(module: nn.Module) -> None:
    """SGRAF init used across SPIRIT: Linear ~ U(±sqrt(6/(in+out))), bias 0; BatchNorm weight 1, bias 0."""
    if isinstance(module, nn.Linear):
        bound = np.sqrt(6.0) / np.sqrt(module.in_features + module.out_features)
        nn.init.uniform_(module.weight, -bound, bound)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class AttentionOnAttention(nn.Module):
    """Multi-head attention followed by the AoA gate (Huang et al. 2019), in the `aoa-pytorch` 0.0.2 layout.

    `to_q`/`to_kv` project without bias to heads*dim_head; the attended values and the query are
    concatenated and `aoa = Sequential(Linear(2*inner, 2*dim), GLU, Dropout)` gates them back to `dim`.
    """

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0, aoa_dropout: float = 0.0):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.aoa = nn.Sequential(nn.Linear(2 * inner, 2 * dim), nn.GLU(dim=-1), nn.Dropout(aoa_dropout))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """x: [B, N, dim], context: [B, M, dim] (defaults to x) -> [B, N, dim]."""
        context = x if context is None else context
        q_flat = self.to_q(x)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q_flat, k, v))
        attn = self.dropout((q @ k.transpose(-1, -2) * self.scale).softmax(dim=-1))
        attended = (attn @ v).transpose(1, 2).flatten(2)
        return self.aoa(torch.cat((attended, q_flat), dim=-1))


class SelfAttentionNew(nn.Module):
    """AoA self-attention on one vector with a residual: [B, D] -> [B, D] (original name kept for the keys)."""

    def __init__(self, dim: int = 640, heads: int = 8):
        super().__init__()
        if dim % heads:
            raise ValueError(f"SelfAttentionNew: dim {dim} is not divisible by heads {heads}")
        self.aoa = AttentionOnAttention(dim=dim, heads=heads, dim_head=dim // heads)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        token = feature.unsqueeze(1)
        return (self.aoa(token) + token).squeeze(1)


class AttentionFiltration(nn.Module):
    """Gate-based attention filtration over graph nodes: [B, N, D] -> l2norm(sum_n a_n x_n) [B, D]."""

    def __init__(self, sim_dim: int = 640):
        super().__init__()
        self.attn_sim_w = nn.Linear(sim_dim, 1)
        self.bn = nn.BatchNorm1d(1)
        self.apply(xavier_uniform_linear_)

    def forward(self, sim_emb: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.bn(self.attn_sim_w(sim_emb).transpose(1, 2)))  # [B, 1, N]
        weights = l1norm(gate, dim=-1)
        return l2norm((weights @ sim_emb).squeeze(1), dim=-1)
