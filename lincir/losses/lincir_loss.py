"""LinCIR's training signal: the uniform-scaled Gaussian noise and the MSE to the original text embedding."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def add_scaled_noise(text_embeds: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """`x + s · eps` with one `s ~ U(0, 1)` per sample and `eps ~ N(0, I)` per dimension."""
    b = text_embeds.shape[0]
    s = torch.rand(b, 1, generator=generator, device=text_embeds.device, dtype=text_embeds.dtype)
    eps = torch.randn(text_embeds.shape, generator=generator, device=text_embeds.device, dtype=text_embeds.dtype)
    return text_embeds + s * eps


def lincir_loss(reencoded: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Mean squared error over B × d between un-normalised embeddings (computed in fp32)."""
    return F.mse_loss(reencoded.float(), original.float())
