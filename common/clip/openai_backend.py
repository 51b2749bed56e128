"""`ClipBackbone` over an OpenAI `clip.model.CLIP` (ViT or ModifiedResNet)."""
from __future__ import annotations

import torch
from torch import nn

from common.clip.backbone import ClipBackbone
from common.clip.towers import openai_block, resnet_tokens, vit_tokens


class OpenAIClipBackbone(ClipBackbone):
    """OpenAI clip model wrapped in the common interface; parameters keep OpenAI's names under `model.`."""

    backend = "openai"

    def __init__(self, name: str, model: nn.Module) -> None:
        visual = model.visual
        is_resnet = not hasattr(visual, "class_embedding")
        vision_width = visual.layer4[-1].conv3.out_channels if is_resnet else visual.conv1.out_channels
        super().__init__(name, embed_dim=model.text_projection.shape[1], vision_width=vision_width,
                         text_width=model.token_embedding.embedding_dim,
                         context_length=model.positional_embedding.shape[0],
                         image_size=visual.input_resolution, is_resnet=is_resnet)
        self.model = model.eval()

    @staticmethod
    def _run_blocks(transformer: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x.transpose(0, 1)  # OpenAI blocks are sequence-first
        for block in transformer.resblocks:
            x = openai_block(block, x, mask)
        return x.transpose(0, 1)

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.token_embedding(ids).to(self.dtype)

    def _positional_embedding(self) -> torch.Tensor:
        return self.model.positional_embedding

    def _text_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run_blocks(self.model.transformer, x, mask)

    def _text_final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.ln_final(x)

    def _text_projection(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.model.text_projection

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(images.to(self.dtype))

    def encode_image_tokens(self, images: torch.Tensor, after_ln_post: bool = False,
                            include_cls: bool = False) -> torch.Tensor:
        visual = self.model.visual
        if self.is_resnet:
            return resnet_tokens(visual, images, after_ln_post, include_cls)
        return vit_tokens(visual, images, lambda x: self._run_blocks(visual.transformer, x, None),
                          after_ln_post, include_cls)
