"""The ClipCap-style pre-LN transformer FTI4CIR runs over [query templates; patch tokens] (original keys)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MlpTransformer(nn.Module):
    """Two-layer ReLU MLP of a transformer block (`fc1`, `fc2`)."""

    def __init__(self, in_dim: int, h_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, h_dim)
        self.fc2 = nn.Linear(h_dim, in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class MultiHeadAttention(nn.Module):
    """Self-attention with bias-free `to_queries`/`to_keys_values` and a biased output `project`.

    `to_keys_values` emits [keys | values] along the feature axis, each split into heads, as the original.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.to_queries = nn.Linear(dim, dim, bias=False)
        self.to_keys_values = nn.Linear(dim, 2 * dim, bias=False)
        self.project = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.num_heads
        queries = self.to_queries(x).reshape(b, n, h, c // h).transpose(1, 2)
        keys, values = self.to_keys_values(x).reshape(b, n, 2, h, c // h).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(queries, keys, values)
        return self.project(out.transpose(1, 2).reshape(b, n, c))


class TransformerLayer(nn.Module):
    """Pre-LN block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MlpTransformer(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    """`num_layers` self-attention blocks of width `dim` (FTI4CIR: 3 layers, 1 head, MLP ratio 2)."""

    def __init__(self, dim: int, num_heads: int, num_layers: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(dim, num_heads, mlp_ratio) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
