"""Loading and saving ERN weights, including the authors' `{dataset}-best.pth` layouts."""
from __future__ import annotations

import os

import torch
from torch import nn

from common.checkpoint import load_checkpoint, save_atomic

CLIP_PREFIXES = ("image_clip.clip_model.", "text_clip.clip_model.")
FIRST_UPLOAD_RENAMES = {"DVR.transformer_before.": "DVR.transformer_layer.",
                        "DVR.cross_attention.": "DVR.MR_component."}
DROPPED_PREFIXES = ("DVR.transformer_after.",)
DROPPED_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
CLS_KEY = "DVR.transformer_layer.cls_token"


def convert_original_state_dict(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Authors' ERN state dict -> (fusion state dict in our names, CLIP state dict or {}).

    Handles: a DDP `module.` prefix; the duplicated CLIP copies under `image_clip.clip_model.` /
    `text_clip.clip_model.` (returned separately); the first upload's `transformer_before` /
    `cross_attention` names and its unused `transformer_after`; the BERT `position_ids` buffer of
    transformers<4.31; the CLS token missing from CUDA-trained checkpoints (it was a constant zero).
    """
    fusion: dict[str, torch.Tensor] = {}
    clip: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module."):]
        if key.startswith(CLIP_PREFIXES[0]):
            clip[key[len(CLIP_PREFIXES[0]):]] = value
            continue
        if key.startswith(CLIP_PREFIXES[1]) or key.startswith(DROPPED_PREFIXES) or key.endswith(DROPPED_BUFFERS):
            continue
        for old, new in FIRST_UPLOAD_RENAMES.items():
            if key.startswith(old):
                key = new + key[len(old):]
        fusion[key] = value
    if CLS_KEY not in fusion and "DVR.transformer_layer.bert_encoder.bert_model.pooler.dense.weight" in fusion:
        dim = fusion["DVR.transformer_layer.bert_encoder.bert_model.pooler.dense.weight"].shape[0]
        fusion[CLS_KEY] = torch.zeros(1, 1, dim)
    return fusion, clip


def load_ern_weights(model: nn.Module, path: str | os.PathLike, trust: bool = False) -> dict[str, torch.Tensor]:
    """Strictly load an ERN checkpoint (ours or the authors'); returns the CLIP state dict it carried, if any."""
    state = load_checkpoint(path, trust=trust)
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path}: not a state dict")
    fusion, clip = convert_original_state_dict(state)
    has_tme = any(k.startswith("TME.") for k in fusion)
    if has_tme != hasattr(model, "TME"):
        raise ValueError(f"{path}: TME weights {'present' if has_tme else 'absent'} but the model was built "
                         f"{'without' if has_tme else 'with'} TME (use {'--tme' if has_tme else '--no-tme'})")
    own = model.state_dict()
    wrong_shape = [k for k, v in fusion.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in fusion]
    unexpected = [k for k in fusion if k not in own] + wrong_shape
    if missing or unexpected:
        raise ValueError(f"{path}: state dict does not match ERN(feature_dim={getattr(model, 'feature_dim', '?')}): "
                         f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
                         f"unexpected or of another shape {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
    model.load_state_dict(fusion, strict=True)
    return clip


def save_ern_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Atomically save the ERN state dict (the authors' layout without the CLIP copies)."""
    target = model.module if hasattr(model, "module") else model
    save_atomic({k: v.detach().cpu() for k, v in target.state_dict().items()}, path)
