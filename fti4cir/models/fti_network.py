"""The FTI4CIR network (the original `IMG2TEXT`): subject token, dynamic local attributes, attribute tokens."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from common.phi import Phi
from fti4cir.models.mh_transformer import Transformer


@dataclass(frozen=True)
class FTIConfig:
    """Sizes and selection hyper-parameters; defaults are the original's (ViT-L/14: 1024 / 768 / 768)."""

    patch_dim: int = 1024  # width of the CLIP patch tokens before ln_post
    embed_dim: int = 768  # projected CLIP feature size (phi inputs, latent local features)
    token_dim: int = 768  # CLIP token-embedding width (phi outputs)
    num_k: int = 24  # learnable query templates
    topk: int = 12  # slots kept after the attention screening
    epsilon: float = 0.05  # softmax threshold deciding r, the number of attribute words
    tf_layer: int = 3
    tf_head: int = 1
    phi_dropout: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PseudoWords:
    """Per image: the subject token, the `topk` attribute tokens (only the first `num_attributes` are used)."""

    subject: torch.Tensor  # [B, token_dim]
    attributes: torch.Tensor  # [B, topk, token_dim]
    local_features: torch.Tensor  # [B, topk, embed_dim], L2-normalised, selection order
    num_attributes: torch.Tensor  # [B] long, r in [1, topk]


def select_attributes(latent: torch.Tensor, global_feat: torch.Tensor, topk: int, epsilon: float
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose and order the local attribute slots of each image.

    a = softmax_k(latent_k · g); keep the `topk` slots with the largest a; r = #{a_k > epsilon} clamped to
    [1, topk]; order = the top-r slots sorted by slot index, then the other kept slots by decreasing a.
    Returns (slot indices [B, topk], r [B]).
    """
    weights = torch.softmax(torch.einsum("bkd,bd->bk", latent, global_feat), dim=1)
    ranked = torch.argsort(weights, dim=1, descending=True, stable=True)[:, :topk]
    num_attributes = (weights > epsilon).sum(dim=1).clamp(1, topk)
    position = torch.arange(topk, device=latent.device).expand_as(ranked)
    in_sentence = position < num_attributes[:, None]
    sort_key = torch.where(in_sentence, ranked, latent.shape[1] + position)
    order = torch.gather(ranked, 1, torch.argsort(sort_key, dim=1))
    return order, num_attributes


class FTI4CIR(nn.Module):
    """Maps CLIP image features to one subject-oriented and up to `topk` attribute-oriented pseudo-word tokens.

    Parameter names follow the original `IMG2TEXT` (`phi_s`, `phi_a`, `local_atte_fc`, `transformer`,
    `templates`) so its released weights load strictly (see `fti4cir.models.convert`).
    """

    def __init__(self, config: FTIConfig):
        super().__init__()
        self.config = config
        hidden = 4 * config.embed_dim
        self.phi_s = Phi(config.embed_dim, hidden, config.token_dim, config.phi_dropout)
        self.phi_a = Phi(config.embed_dim, hidden, config.token_dim, config.phi_dropout)
        self.local_atte_fc = nn.Sequential(nn.Linear(config.patch_dim, config.embed_dim), nn.Sigmoid())
        self.transformer = Transformer(config.patch_dim, config.tf_head, config.tf_layer)
        self.templates = nn.Parameter(torch.randn(1, config.num_k, config.patch_dim))

    def latent_local_features(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        """[B, N, patch_dim] -> [B, num_k, embed_dim] in (0, 1): templates attend to the patches."""
        templates = self.templates.expand(patch_tokens.shape[0], -1, -1)
        out = self.transformer(torch.cat([templates, patch_tokens], dim=1))[:, : self.config.num_k]
        return self.local_atte_fc(out)

    def forward(self, global_feat: torch.Tensor, patch_tokens: torch.Tensor) -> PseudoWords:
        """global_feat: unnormalised CLIP image feature [B, embed_dim]; patch_tokens: [B, N, patch_dim]."""
        if global_feat.shape[-1] != self.config.embed_dim or patch_tokens.shape[-1] != self.config.patch_dim:
            raise ValueError(f"FTI4CIR expects features of width {self.config.embed_dim} and patch tokens of "
                             f"width {self.config.patch_dim}, got {tuple(global_feat.shape)} and "
                             f"{tuple(patch_tokens.shape)}")
        latent = self.latent_local_features(patch_tokens)
        order, num_attributes = select_attributes(latent.detach(), global_feat, self.config.topk,
                                                  self.config.epsilon)
        selected = torch.gather(latent, 1, order[..., None].expand(-1, -1, latent.shape[-1]))
        local = F.normalize(selected, dim=-1)
        return PseudoWords(subject=self.phi_s(global_feat), attributes=self.phi_a(local),
                           local_features=local, num_attributes=num_attributes)
