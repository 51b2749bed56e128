"""Build OpenAI clip and HF transformers CLIPs from a `ClipArch`, and convert OpenAI/open_clip state dicts into them."""
from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection

from common.clip.arch import ClipArch
from common.clip.weights import load_state_strict

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm default, used by OpenAI clip and open_clip


def build_openai_model(arch: ClipArch) -> nn.Module:
    """A randomly initialised OpenAI `clip.model.CLIP` with `arch`'s shapes, head counts and activation."""
    from clip import model as openai_model

    if arch.mlp_ratio != 4.0:
        raise ValueError(f"OpenAI clip hard-codes an MLP ratio of 4, this model uses {arch.mlp_ratio}")
    model = openai_model.CLIP(
        embed_dim=arch.embed_dim, image_resolution=arch.image_size,
        vision_layers=arch.vision_layers, vision_width=arch.vision_width,
        vision_patch_size=arch.patch_size, context_length=arch.context_length, vocab_size=arch.vocab_size,
        transformer_width=arch.text_width, transformer_heads=arch.text_heads, transformer_layers=arch.text_layers)
    openai_heads = arch.vision_width * 32 // 64 if arch.is_resnet else arch.vision_width // 64
    if arch.vision_heads != openai_heads:  # OpenAI derives the head count from 64-wide heads; rebuild otherwise
        if arch.is_resnet:
            model.visual = openai_model.ModifiedResNet(
                layers=arch.vision_layers, output_dim=arch.embed_dim, heads=arch.vision_heads,
                input_resolution=arch.image_size, width=arch.vision_width)
        else:
            model.visual = openai_model.VisionTransformer(
                input_resolution=arch.image_size, patch_size=arch.patch_size, width=arch.vision_width,
                layers=arch.vision_layers, heads=arch.vision_heads, output_dim=arch.embed_dim)
    if not arch.quick_gelu:
        for module in model.modules():
            if isinstance(module, openai_model.ResidualAttentionBlock):
                module.mlp.gelu = nn.GELU()
    return model.float()


def hf_configs(arch: ClipArch) -> tuple[CLIPVisionConfig, CLIPTextConfig]:
    """HF vision/text configs equal to `arch`; raises for a ResNet image tower, which HF CLIP lacks."""
    if arch.is_resnet:
        raise ValueError("HF transformers' CLIP has no ResNet image tower: load this model with "
                         "backend='open_clip' or backend='openai'")
    activation = "quick_gelu" if arch.quick_gelu else "gelu"
    vision = CLIPVisionConfig(
        hidden_size=arch.vision_width, intermediate_size=int(arch.vision_width * arch.mlp_ratio),
        num_hidden_layers=arch.vision_layers, num_attention_heads=arch.vision_heads, image_size=arch.image_size,
        patch_size=arch.patch_size, projection_dim=arch.embed_dim, hidden_act=activation,
        layer_norm_eps=LAYER_NORM_EPS)
    text = CLIPTextConfig(
        vocab_size=arch.vocab_size, hidden_size=arch.text_width,
        intermediate_size=int(arch.text_width * arch.mlp_ratio),
        num_hidden_layers=arch.text_layers, num_attention_heads=arch.text_heads,
        max_position_embeddings=arch.context_length, projection_dim=arch.embed_dim, hidden_act=activation,
        layer_norm_eps=LAYER_NORM_EPS, bos_token_id=arch.vocab_size - 2, eos_token_id=arch.vocab_size - 1,
        pad_token_id=0)
    return vision, text


def _hf_encoder_layers(state: dict, prefix: str, hf_prefix: str, layers: int) -> dict:
    out = {}
    for i in range(layers):
        src, dst = f"{prefix}.resblocks.{i}.", f"{hf_prefix}.encoder.layers.{i}."
        for name, part in zip(("q_proj", "k_proj", "v_proj"), state[src + "attn.in_proj_weight"].chunk(3)):
            out[dst + f"self_attn.{name}.weight"] = part
        for name, part in zip(("q_proj", "k_proj", "v_proj"), state[src + "attn.in_proj_bias"].chunk(3)):
            out[dst + f"self_attn.{name}.bias"] = part
        for kind in ("weight", "bias"):
            out[dst + f"self_attn.out_proj.{kind}"] = state[src + f"attn.out_proj.{kind}"]
            out[dst + f"layer_norm1.{kind}"] = state[src + f"ln_1.{kind}"]
            out[dst + f"layer_norm2.{kind}"] = state[src + f"ln_2.{kind}"]
            out[dst + f"mlp.fc1.{kind}"] = state[src + f"mlp.c_fc.{kind}"]
            out[dst + f"mlp.fc2.{kind}"] = state[src + f"mlp.c_proj.{kind}"]
    return out


def openai_state_dict_to_hf(state: dict[str, torch.Tensor], arch: ClipArch) -> tuple[dict, dict]:
    """(vision, text) state dicts for HF `CLIPVisionModelWithProjection` / `CLIPTextModelWithProjection`."""
    vision = {
        "vision_model.embeddings.class_embedding": state["visual.class_embedding"],
        "vision_model.embeddings.patch_embedding.weight": state["visual.conv1.weight"],
        "vision_model.embeddings.position_embedding.weight": state["visual.positional_embedding"],
        "visual_projection.weight": state["visual.proj"].t(),
    }
    text = {
        "text_model.embeddings.token_embedding.weight": state["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": state["positional_embedding"],
        "text_projection.weight": state["text_projection"].t(),
    }
    for kind in ("weight", "bias"):
        vision[f"vision_model.pre_layrnorm.{kind}"] = state[f"visual.ln_pre.{kind}"]
        vision[f"vision_model.post_layernorm.{kind}"] = state[f"visual.ln_post.{kind}"]
        text[f"text_model.final_layer_norm.{kind}"] = state[f"ln_final.{kind}"]
    vision.update(_hf_encoder_layers(state, "visual.transformer", "vision_model", arch.vision_layers))
    text.update(_hf_encoder_layers(state, "transformer", "text_model", arch.text_layers))
    return vision, text


def build_hf_models(arch: ClipArch, state: dict[str, torch.Tensor] | None = None, source: str = "state dict"
                    ) -> tuple[CLIPVisionModelWithProjection, CLIPTextModelWithProjection]:
    """HF vision/text CLIP towers for `arch`, loaded strictly from an OpenAI/open_clip-layout `state` if given."""
    vision_cfg, text_cfg = hf_configs(arch)
    vision, text = CLIPVisionModelWithProjection(vision_cfg), CLIPTextModelWithProjection(text_cfg)
    if state is not None:
        try:
            vision_state, text_state = openai_state_dict_to_hf(state, arch)
        except KeyError as error:
            raise ValueError(f"{source}: weights do not fit the CLIP model: missing key {error.args[0]!r}") from None
        load_state_strict(vision, vision_state, source)
        load_state_strict(text, text_state, source)
    return vision.eval(), text.eval()
