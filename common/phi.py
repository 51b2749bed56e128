"""Phi: the SEARLE textual-inversion MLP (shared by LinCIR and FTI4CIR), original keys `layers.{0,3,6}`."""
from __future__ import annotations

import torch
from torch import nn


class Phi(nn.Module):
    """Maps a CLIP embedding to one pseudo-word token embedding: Linear-GELU-Dropout ×2, then Linear."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, dropout: float = 0.5):
        super().__init__()
        self.input_dim, self.hidden_dim, self.output_dim = input_dim, hidden_dim, output_dim
        self.layers = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
