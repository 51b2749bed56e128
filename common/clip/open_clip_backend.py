"""`ClipBackbone` over an open_clip `CLIP` / `CustomTextCLIP` with a ViT or ModifiedResNet image tower."""
from __future__ import annotations

import torch
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer
from torch import nn

from common.clip.backbone import ClipBackbone
from common.clip.towers import resnet_tokens, vit_tokens


class OpenClipBackbone(ClipBackbone):
    """open_clip model wrapped in the common interface; parameters keep open_clip's names under `model.`."""

    backend = "open_clip"

    def __init__(self, name: str, model: nn.Module) -> None:
        visual = model.visual
        if not isinstance(visual, (VisionTransformer, ModifiedResNet)):
            raise ValueError(f"{name}: image tower {type(visual).__name__} is not a CLIP ViT or ModifiedResNet")
        text = getattr(model, "text", model)
        pool = getattr(text, "text_pool_type", getattr(text, "pool_type", "argmax"))
        if pool != "argmax" or getattr(text, "cls_emb", None) is not None:
            raise ValueError(f"{name}: text tower pools with {pool!r}; this interface needs EOT (argmax) pooling")
        is_resnet = isinstance(visual, ModifiedResNet)
        image_size = visual.image_size if is_resnet else visual.image_size[0]
        vision_width = visual.layer4[-1].conv3.out_channels if is_resnet else visual.conv1.out_channels
        super().__init__(name, embed_dim=visual.output_dim, vision_width=vision_width,
                         text_width=text.token_embedding.embedding_dim,
                         context_length=text.positional_embedding.shape[0], image_size=image_size, is_resnet=is_resnet)
        self.model = model.eval()

    @property
    def _text(self) -> nn.Module:
        return getattr(self.model, "text", self.model)

    def _run_blocks(self, transformer: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if not transformer.batch_first:
            x = x.transpose(0, 1)
        for block in transformer.resblocks:
            x = block(x, attn_mask=mask)
        return x if transformer.batch_first else x.transpose(0, 1)

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self._text.token_embedding(ids).to(self.dtype)

    def _positional_embedding(self) -> torch.Tensor:
        return self._text.positional_embedding

    def _text_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run_blocks(self._text.transformer, x, mask)

    def _text_final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self._text.ln_final(x)

    def _text_projection(self, x: torch.Tensor) -> torch.Tensor:
        projection = self._text.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, nn.Linear) else x @ projection

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(images.to(self.dtype))

    def encode_image_tokens(self, images: torch.Tensor, after_ln_post: bool = False,
                            include_cls: bool = False) -> torch.Tensor:
        visual = self.model.visual
        if self.is_resnet:
            return resnet_tokens(visual, images, after_ln_post, include_cls)
        return vit_tokens(visual, images, lambda x: self._run_blocks(visual.transformer, x, None),
                          after_ln_post, include_cls)
