"""Load BLIP-2/MAI weights: LAVIS key layout (`blip2_pretrained.pth`, MAI `epoch*.pth`, `eva_vit_g.pth`) and HF folders."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint

# Keys of the original checkpoints that MAI never reads; dropped on purpose (each listed in the README).
LAVIS_UNUSED = ("Qformer.cls.", "Qformer.bert.embeddings.position_ids", "itm_head.", "vision_proj.",
                "visual_tokens", "token_alpha")
HF_UNUSED = ("itm_head.", "vision_projection.", "embeddings.position_ids", "qformer.embeddings.position_ids")
# EVA checkpoint parts outside LAVIS's 39-block encoder (LAVIS loads eva_vit_g.pth with strict=False).
EVA_UNUSED = ("norm.", "head.", "fc_norm.", "lm_head.", "rel_pos_bias.")
# MAI parameters that BLIP-2 checkpoints do not have (random init, as in the original).
NEW_IN_MAI = ("prompt_tokens", "target_proj.weight", "target_proj.bias")
MAI_CKPT_KEY = "Blip2QformerCirAlignPrompt"


def _lavis_qformer_key(key: str) -> str:
    key = key.replace("Qformer.bert.embeddings.LayerNorm.", "Qformer.qformer.layernorm.")
    key = key.replace("Qformer.bert.embeddings.", "Qformer.embeddings.")
    key = key.replace("Qformer.bert.encoder.", "Qformer.qformer.encoder.")
    return re.sub(r"\.(attention|crossattention)\.self\.", r".\1.attention.", key)


def eva_to_encoder_state(state: dict[str, torch.Tensor], depth: int) -> dict[str, torch.Tensor]:
    """EVA ViT (LAVIS `eva_vit.py` names, optionally prefixed `visual_encoder.`) → `EvaViTEncoder` keys."""
    out: dict[str, torch.Tensor] = {}
    biases: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        k = key.removeprefix("visual_encoder.")
        block = re.match(r"blocks\.(\d+)\.(.+)", k)
        if block:
            i, rest = int(block.group(1)), block.group(2)
            if i >= depth:
                continue
            if rest in ("attn.q_bias", "attn.v_bias"):
                biases.setdefault(i, {})[rest[5]] = value
                continue
            names = {"norm1": "layer_norm1", "norm2": "layer_norm2", "attn.qkv": "self_attn.qkv",
                     "attn.proj": "self_attn.projection", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
            stem, _, leaf = rest.rpartition(".")
            if stem not in names:
                raise KeyError(f"EVA checkpoint: unknown key {key}")
            out[f"encoder.layers.{i}.{names[stem]}.{leaf}"] = value
        elif k == "cls_token":
            out["embeddings.class_embedding"] = value
        elif k == "pos_embed":
            out["embeddings.position_embedding"] = value
        elif k.startswith("patch_embed.proj."):
            out["embeddings.patch_embedding." + k.rsplit(".", 1)[1]] = value
        elif not k.startswith(EVA_UNUSED):
            raise KeyError(f"EVA checkpoint: unknown key {key}")
    for i, qv in biases.items():
        if set(qv) != {"q", "v"}:
            raise KeyError(f"EVA checkpoint: block {i} has only {sorted(qv)}_bias")
        out[f"encoder.layers.{i}.self_attn.qkv.bias"] = torch.cat([qv["q"], torch.zeros_like(qv["q"]), qv["v"]])
    return out


def lavis_to_mai(state: dict[str, torch.Tensor], eva_depth: int = 39) -> tuple[dict, dict]:
    """LAVIS layout (blip2_pretrained.pth["model"] or MAI's checkpoint dict) → (model state, encoder state)."""
    model: dict[str, torch.Tensor] = {}
    visual = {k: v for k, v in state.items() if k.startswith("visual_encoder.")}
    for key, value in state.items():
        if key.startswith("visual_encoder.") or key.startswith(LAVIS_UNUSED):
            continue
        model[_lavis_qformer_key(key) if key.startswith("Qformer.bert.") else key] = value
    return model, eva_to_encoder_state(visual, eva_depth) if visual else {}


def hf_blip2_to_mai(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """HF `Blip2ForImageTextRetrieval` layout (e.g. Salesforce/blip2-itm-vit-g) → (model state, encoder state)."""
    model: dict[str, torch.Tensor] = {}
    encoder: dict[str, torch.Tensor] = {}
    biases: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith(HF_UNUSED):
            continue
        if key.startswith("vision_model.post_layernorm."):
            model["ln_vision." + key.rsplit(".", 1)[1]] = value
        elif key.endswith(("self_attn.q_bias", "self_attn.v_bias")) and key.startswith("vision_model."):
            stem = key.removeprefix("vision_model.").rsplit(".", 1)[0]
            biases.setdefault(stem, {})[key[-6]] = value
        elif key.startswith("vision_model."):
            encoder[key.removeprefix("vision_model.")] = value
        elif key.startswith(("qformer.", "embeddings.")):
            model["Qformer." + key] = value
        elif key.startswith("text_projection."):
            model["text_proj." + key.rsplit(".", 1)[1]] = value
        else:
            model[key] = value
    for stem, qv in biases.items():
        encoder[f"{stem}.qkv.bias"] = torch.cat([qv["q"], torch.zeros_like(qv["q"]), qv["v"]])
    return model, encoder


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str,
              allowed_missing: tuple[str, ...] = ()) -> None:
    """Strict load after conversion: every key must be used; only `allowed_missing` may stay at init."""
    own = module.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if k not in allowed_missing)
    if unexpected or missing:
        raise KeyError(f"{source}: unexpected keys {unexpected[:5]} ({len(unexpected)}), "
                       f"missing keys {missing[:5]} ({len(missing)})")
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(f"{source}: {key}: shape {tuple(value.shape)} != model {tuple(own[key].shape)}")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read a checkpoint file or HF folder; returns (state dict, layout) with layout "lavis" | "hf" | "eva"."""
    p = Path(path)
    if p.is_dir():
        from safetensors.torch import load_file
        index = p / "model.safetensors.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state = {k: v for s in shards for k, v in load_file(str(p / s)).items()}
        elif (p / "model.safetensors").is_file():
            state = load_file(str(p / "model.safetensors"))
        else:
            raise FileNotFoundError(f"{p}: no model.safetensors(.index.json) (expected an HF BLIP-2 folder)")
        return state, "hf"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: weights not found (blip2_pretrained.pth, eva_vit_g.pth, a MAI epoch*.pth "
                                "or an HF Salesforce/blip2-itm-vit-g folder)")
    obj = load_checkpoint(p)
    if isinstance(obj, dict) and "model" in obj:
        return obj["model"], "lavis"
    if isinstance(obj, dict) and MAI_CKPT_KEY in obj:
        return obj[MAI_CKPT_KEY], "lavis"
    if isinstance(obj, dict) and "cls_token" in obj:
        return obj, "eva"
    raise ValueError(f"{p}: checkpoint: expected a 'model' or '{MAI_CKPT_KEY}' entry or EVA ViT keys")
