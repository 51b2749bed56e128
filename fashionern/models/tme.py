"""Triple-branch Modifier Enhancement (TME), rebuilt from the paper over a frozen CLIP text tower.

The authors withheld TME. At every text layer l three branches act on the modifier tokens and are
summed: the frozen CLIP block (conventional branch), a reference-injection branch (cross-attention
from the text tokens to the 13 reference patch embeddings, then an FFN) and a target-alignment
branch (causal self-attention, then an FFN). The two new branches are residual deltas behind
zero-initialised tanh gates, so an untrained TME equals the vanilla CLIP text encoder exactly:

    x_{l+1} = Block_l(x_l) + tanh(a_l) * Inject_l(x_l, P) + tanh(b_l) * Align_l(x_l)

The alignment branch is supervised by `align`: the last layer's conventional output plus its
(ungated) alignment delta, pooled at EOT through ln_final and the text projection, which the
training loss pulls towards the target image embedding. All choices are listed in README.md.
"""
from __future__ import annotations

import torch
from torch import nn

from common.clip.towers import openai_block


class TextTower:
    """Frozen pieces of a CLIP text encoder: token + position embedding, blocks, ln_final, projection.

    Not an nn.Module on purpose: the CLIP weights stay out of the fusion model's state dict and
    optimizer. Built from an open_clip or OpenAI `CLIP` module (same attribute names).
    """

    def __init__(self, clip_model: nn.Module):
        clip_model = getattr(clip_model, "text", clip_model)
        for attr in ("token_embedding", "positional_embedding", "transformer", "ln_final", "text_projection"):
            if getattr(clip_model, attr, None) is None:
                raise TypeError(f"TextTower: {type(clip_model).__name__} has no '{attr}' "
                                "(expected an open_clip or OpenAI CLIP model)")
        self.model = clip_model
        self.batch_first = bool(getattr(clip_model.transformer, "batch_first", False))
        self.blocks = list(clip_model.transformer.resblocks)
        self.width = int(clip_model.positional_embedding.shape[-1])
        self.context_length = int(clip_model.positional_embedding.shape[0])
        proj = clip_model.text_projection
        self.embed_dim = int(proj.out_features if isinstance(proj, nn.Linear) else proj.shape[1])
        self.heads = int(self.blocks[0].attn.num_heads)

    @classmethod
    def from_backbone(cls, backbone: nn.Module) -> "TextTower":
        """The text tower of a `common.clip.ClipBackbone` (open_clip or OpenAI backend)."""
        inner = getattr(backbone, "model", None)
        if inner is None or getattr(backbone, "backend", "") == "hf":
            raise TypeError(f"TextTower: backbone {getattr(backbone, 'name', backbone)!r} "
                            f"(backend {getattr(backbone, 'backend', '?')!r}) is not an open_clip or OpenAI CLIP; "
                            "load it with backend='open_clip' or 'openai'")
        return cls(inner)

    def parameters(self):
        """The frozen CLIP text parameters (for freezing and device moves)."""
        return self.model.parameters()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        dtype = self.model.positional_embedding.dtype
        return self.model.token_embedding(ids).to(dtype) + self.model.positional_embedding[: ids.shape[1]]

    def causal_mask(self, length: int, device: torch.device) -> torch.Tensor:
        return torch.full((length, length), float("-inf"), device=device).triu_(1)

    def block(self, index: int, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Run frozen block `index` on batch-first `x` [B, L, W] with the causal mask."""
        blk = self.blocks[index]
        if self.batch_first:
            return blk(x, attn_mask=mask)
        return openai_block(blk, x.transpose(0, 1), mask).transpose(0, 1)

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """ln_final then text projection, on any leading shape [..., W] -> [..., D]."""
        x = self.model.ln_final(hidden)
        proj = self.model.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Vanilla CLIP text features: (global [B, D] at EOT = argmax id, sequence [B, L, D])."""
        mask = self.causal_mask(ids.shape[1], ids.device)
        x = self.embed(ids)
        for i in range(len(self.blocks)):
            x = self.block(i, x, mask)
        seq = self.project(x)
        return seq[torch.arange(ids.shape[0], device=ids.device), ids.argmax(dim=-1)], seq


class _FeedForward(nn.Sequential):
    def __init__(self, width: int, ratio: int):
        super().__init__(nn.Linear(width, width * ratio), nn.GELU(), nn.Linear(width * ratio, width))


class ReferenceInjection(nn.Module):
    """Delta from cross-attention of text tokens (queries) to reference patch embeddings, then an FFN."""

    def __init__(self, width: int, visual_dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.ln_q = nn.LayerNorm(width)
        self.ln_kv = nn.LayerNorm(visual_dim)
        self.attn = nn.MultiheadAttention(width, heads, kdim=visual_dim, vdim=visual_dim, batch_first=True)
        self.ln_ff = nn.LayerNorm(width)
        self.ffn = _FeedForward(width, mlp_ratio)

    def forward(self, x: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        kv = self.ln_kv(visual)
        delta, _ = self.attn(self.ln_q(x), kv, kv, need_weights=False)
        return delta + self.ffn(self.ln_ff(delta))


class TargetAlignment(nn.Module):
    """Delta from causal self-attention over the text tokens, then an FFN."""

    def __init__(self, width: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.ffn = _FeedForward(width, mlp_ratio)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        delta, _ = self.attn(h, h, h, attn_mask=mask, need_weights=False)
        return delta + self.ffn(self.ln_2(delta))


class TME(nn.Module):
    """Trainable TME branches around a frozen `TextTower`.

    forward(ids [B, L], ref_patches [B, P, D]) -> (text_global [B, D], text_seq [B, L, D], align [B, D]).
    """

    def __init__(self, width: int, num_layers: int, visual_dim: int, heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.inject = nn.ModuleList(ReferenceInjection(width, visual_dim, heads, mlp_ratio) for _ in range(num_layers))
        self.align = nn.ModuleList(TargetAlignment(width, heads, mlp_ratio) for _ in range(num_layers))
        self.inject_gate = nn.Parameter(torch.zeros(num_layers))
        self.align_gate = nn.Parameter(torch.zeros(num_layers))
        self._tower: TextTower | None = None

    @classmethod
    def for_tower(cls, tower: TextTower, visual_dim: int, mlp_ratio: int = 4) -> "TME":
        tme = cls(tower.width, len(tower.blocks), visual_dim, tower.heads, mlp_ratio)
        tme.attach(tower)
        return tme

    def attach(self, tower: TextTower) -> None:
        """Bind the frozen CLIP text tower (not saved in the state dict)."""
        if tower.width != self.inject[0].ln_q.normalized_shape[0] or len(tower.blocks) != len(self.inject):
            raise ValueError(f"TME: tower of width {tower.width} with {len(tower.blocks)} layers does not match "
                             f"this TME ({self.inject[0].ln_q.normalized_shape[0]} wide, {len(self.inject)} layers)")
        self._tower = tower

    def forward(self, ids: torch.Tensor, ref_patches: torch.Tensor):
        tower = self._tower
        if tower is None:
            raise RuntimeError("TME: no CLIP text tower attached; call attach(TextTower(clip_model)) first")
        mask = tower.causal_mask(ids.shape[1], ids.device)
        visual = ref_patches.to(self.inject_gate.dtype)
        x = tower.embed(ids)
        last = len(tower.blocks) - 1
        for i in range(last + 1):
            conventional = tower.block(i, x, mask)
            injected = self.inject[i](x, visual)
            aligned = self.align[i](x, mask)
            if i == last:
                align_stream = conventional + aligned
            x = conventional + torch.tanh(self.inject_gate[i]) * injected + torch.tanh(self.align_gate[i]) * aligned
        eot = (torch.arange(ids.shape[0], device=ids.device), ids.argmax(dim=-1))
        seq = tower.project(x)
        return seq[eot], seq, tower.project(align_stream[eot])
