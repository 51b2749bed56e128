"""`ClipBackbone` over HF transformers `CLIPVisionModelWithProjection` + `CLIPTextModelWithProjection`."""
from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

from common.clip.backbone import ClipBackbone


class HFClipBackbone(ClipBackbone):
    """HF CLIP towers wrapped in the common interface; parameters keep HF names under `vision.` / `text.`."""

    backend = "hf"

    def __init__(self, name: str, vision: CLIPVisionModelWithProjection, text: CLIPTextModelWithProjection) -> None:
        if vision.config.projection_dim != text.config.projection_dim:
            raise ValueError(f"{name}: vision projection_dim {vision.config.projection_dim} != "
                             f"text projection_dim {text.config.projection_dim}")
        super().__init__(name, embed_dim=text.config.projection_dim, vision_width=vision.config.hidden_size,
                         text_width=text.config.hidden_size, context_length=text.config.max_position_embeddings,
                         image_size=vision.config.image_size, is_resnet=False)
        self.vision = vision.eval()
        self.text = text.eval()

    def _run_layers(self, layers: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        mask = None if mask is None else mask[None, None]  # HF attention takes [B or 1, 1, L, L]
        for layer in layers:
            x = layer(x, mask)
        return x

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text.text_model.embeddings.token_embedding(ids).to(self.dtype)

    def _positional_embedding(self) -> torch.Tensor:
        return self.text.text_model.embeddings.position_embedding.weight

    def _text_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run_layers(self.text.text_model.encoder.layers, x, mask)

    def _text_final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.text.text_model.final_layer_norm(x)

    def _text_projection(self, x: torch.Tensor) -> torch.Tensor:
        return self.text.text_projection(x)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.vision(pixel_values=images.to(self.dtype)).image_embeds

    def encode_image_tokens(self, images: torch.Tensor, after_ln_post: bool = False,
                            include_cls: bool = False) -> torch.Tensor:
        tower = self.vision.vision_model
        x = tower.pre_layrnorm(tower.embeddings(images.to(self.dtype)))
        x = self._run_layers(tower.encoder.layers, x, None)
        if after_ln_post:
            x = tower.post_layernorm(x)
        return x if include_cls else x[:, 1:]
