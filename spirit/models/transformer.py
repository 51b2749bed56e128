"""Patch-level Style Commonality (PSC): a one-layer transformer over the patch features, mean-pooled."""
from collections import OrderedDict

import torch
from torch import nn


class QuickGELU(nn.Module):
    """CLIP's GELU approximation x * sigmoid(1.702 x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN CLIP residual block on batch-first tokens: x += MHA(LN(x)); x += MLP(LN(x))."""

    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head, batch_first=True)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class MultiFrameIntegrationTransformer(nn.Module):
    """PSC: x0 [B, T, D] -> mean_t(blocks(x0 + pos) + x0) [B, D] (float32 output).

    `fp16=True` runs the blocks under CUDA autocast as the original; on CPU it has no effect.
    """

    def __init__(self, T: int = 13, embed_dim: int = 640, layers: int = 1, heads: int = 8, fp16: bool = True):
        super().__init__()
        if embed_dim % heads:
            raise ValueError(f"MultiFrameIntegrationTransformer: embed_dim {embed_dim} not divisible by heads {heads}")
        self.T = T
        self.fp16 = fp16
        self.positional_embedding = nn.Parameter(torch.empty(1, T, embed_dim))
        nn.init.trunc_normal_(self.positional_embedding, std=0.02)
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(embed_dim, heads) for _ in range(layers)])
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.T:
            raise ValueError(f"MultiFrameIntegrationTransformer: expected {self.T} patches, got shape {tuple(x.shape)}")
        with torch.autocast(device_type="cuda", enabled=self.fp16 and x.is_cuda):
            out = self.resblocks(x + self.positional_embedding)
        return (out.to(x.dtype) + x).mean(dim=1).float()
