"""Frozen image encoders that give MAI its visual tokens: EVA ViT-g (BLIP-2) or any `common.clip` backbone."""
from __future__ import annotations

import torch
from torch import nn
from transformers import Blip2VisionConfig
from transformers.models.blip_2.modeling_blip_2 import Blip2Encoder, Blip2VisionEmbeddings

from common.clip import get_transform

# LAVIS `create_eva_vit_g`: width 1408, 39 blocks (the 40th is dropped), 16 heads, mlp 6144, patch 14.
EVA_VIT_G = dict(hidden_size=1408, intermediate_size=6144, num_hidden_layers=39, num_attention_heads=16,
                 patch_size=14, layer_norm_eps=1e-6, hidden_act="gelu", qkv_bias=True)


class FrozenImageEncoder(nn.Module):
    """A frozen encoder mapping images [B, 3, S, S] to raw tokens [B, N, width] (before `ln_vision`).

    `encode_image`, `preprocess`, `backend` and `name` let `common.retrieval.encode_gallery` cache its tokens.
    """

    width: int
    image_size: int
    identity: str
    backend = "mai-image-tokens"

    @property
    def name(self) -> str:
        return self.identity

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self(images)

    def preprocess(self, image):
        return self.transform(image)

    def train(self, mode: bool = True) -> "FrozenImageEncoder":
        # Frozen like LAVIS's `freeze_vit`: always in eval mode, never updated.
        return super().train(False)

    def freeze(self) -> "FrozenImageEncoder":
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()


class EvaViTEncoder(FrozenImageEncoder):
    """EVA ViT-g/14 as BLIP-2 uses it, on HF `Blip2VisionEmbeddings` + `Blip2Encoder` (no final norm)."""

    def __init__(self, image_size: int = 224, sizes: dict | None = None, identity: str = "eva_vit_g",
                 target_ratio: float = 1.25):
        super().__init__()
        self.transform = get_transform("targetpad", image_size, target_ratio)
        cfg = Blip2VisionConfig(image_size=image_size, **(sizes or EVA_VIT_G))
        self.config = cfg
        self.embeddings = Blip2VisionEmbeddings(cfg)
        self.encoder = Blip2Encoder(cfg)
        self.width = cfg.hidden_size
        self.image_size = image_size
        self.identity = identity
        self.freeze()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(inputs_embeds=self.embeddings(images)).last_hidden_state.float()


class ClipTokenEncoder(FrozenImageEncoder):
    """Patch tokens of a `common.clip` backbone's visual tower (`encode_image_tokens`, before ln_post)."""

    def __init__(self, backbone: nn.Module, identity: str):
        super().__init__()
        self.backbone = backbone
        self.transform = backbone.preprocess
        self.width = int(backbone.vision_width)
        self.image_size = int(backbone.image_size)
        self.identity = identity
        self.freeze()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.encode_image_tokens(images, after_ln_post=False).float()
