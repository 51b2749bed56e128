"""Patch-token extraction shared by the OpenAI-layout image towers (OpenAI clip and open_clip ViT / ModifiedResNet)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def openai_block(block: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """OpenAI CLIP's pre-LN residual attention block with an explicit additive mask (x is [L, B, W])."""
    h = block.ln_1(x)
    x = x + block.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
    return x + block.mlp(block.ln_2(x))


def vit_tokens(visual: nn.Module, images: torch.Tensor, run_blocks: Callable[[torch.Tensor], torch.Tensor],
               after_ln_post: bool, include_cls: bool) -> torch.Tensor:
    """[B, (1+)N, W] last-block tokens of an OpenAI-layout VisionTransformer; `run_blocks` takes/returns [B, L, W]."""
    x = visual.conv1(images.to(visual.conv1.weight.dtype))
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    x = run_blocks(visual.ln_pre(x))
    if after_ln_post:
        x = visual.ln_post(x)
    return x if include_cls else x[:, 1:]


def resnet_tokens(visual: nn.Module, images: torch.Tensor, after_ln_post: bool, include_cls: bool) -> torch.Tensor:
    """[B, H*W, C] flattened final feature map of a ModifiedResNet (before the attention pool)."""
    if after_ln_post or include_cls:
        raise ValueError("a ModifiedResNet image tower has no ln_post and no CLS token; "
                         "use after_ln_post=False, include_cls=False")
    x = images.to(visual.conv1.weight.dtype)
    for i in (1, 2, 3):
        activation = getattr(visual, f"act{i}", None) or getattr(visual, f"relu{i}")
        x = activation(getattr(visual, f"bn{i}")(getattr(visual, f"conv{i}")(x)))
    x = visual.avgpool(x)
    for stage in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
        x = stage(x)
    return x.flatten(2).transpose(1, 2)
