"""Load the authors' `{dataset}-best.pth` and save/load our own SPIRIT checkpoints.

The released file is `state_dict()` of the original `SPIRIT` module: fusion weights under
`combiner.*` and `visual_attn.*` (our parameter names), the fine-tuned CLIP twice under
`image_clip.clip_model.*` and `text_clip.clip_model.*` (OpenAI-CLIP keys, fp16 after the original's
`convert_weights`), and `simi_loss.alpha` (weight of a triplet loss that is never used). At load time
the CLIP copy is split off and the unused α is dropped; the fusion part then loads strictly.
"""
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint, save_atomic
from spirit.models.spirit_model import SPIRIT

CLIP_PREFIXES = ("image_clip.clip_model.", "text_clip.clip_model.")
UNUSED_KEYS = ("simi_loss.alpha",)
FUSION_PREFIXES = ("combiner.", "visual_attn.")


def split_original_state_dict(state_dict: dict[str, torch.Tensor], source: str = "state_dict"
                              ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Authors' layout -> (fusion state dict for `SPIRIT`, OpenAI-format CLIP state dict, possibly empty)."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    fusion, clip_copies = {}, {p: {} for p in CLIP_PREFIXES}
    for key, value in state_dict.items():
        clip_prefix = next((p for p in CLIP_PREFIXES if key.startswith(p)), None)
        if clip_prefix is not None:
            clip_copies[clip_prefix][key[len(clip_prefix):]] = value
        elif key.startswith(FUSION_PREFIXES):
            fusion[key] = value
        elif key not in UNUSED_KEYS:
            raise KeyError(f"{source}: {key}: not a SPIRIT key (expected combiner.*, visual_attn.*, "
                           f"image_clip.clip_model.*, text_clip.clip_model.* or simi_loss.alpha)")
    image_clip, text_clip = clip_copies.values()
    if image_clip and text_clip and image_clip.keys() != text_clip.keys():
        raise KeyError(f"{source}: image_clip.clip_model / text_clip.clip_model: the two CLIP copies have different keys")
    if not fusion:
        raise KeyError(f"{source}: combiner.*: no fusion weights found")
    return fusion, image_clip or text_clip


def config_from_state_dict(fusion: dict[str, torch.Tensor]) -> dict:
    """Infer SPIRIT's constructor arguments from a fusion state dict."""
    try:
        projection_dim, input_dim = fusion["combiner.text_projection_layer.weight"].shape
        hidden_dim = fusion["combiner.combiner_layer.weight"].shape[0]
        _, num_patches, feature_dim = fusion["visual_attn.transformer.positional_embedding"].shape
    except KeyError as err:
        raise KeyError(f"SPIRIT state dict: {err.args[0]}: missing") from None
    graph_num = len({k.split(".")[3] for k in fusion if k.startswith("visual_attn.visual_gr.graph.")})
    if input_dim != 2 * feature_dim:
        raise ValueError(f"SPIRIT state dict: combiner.text_projection_layer.weight: input width {input_dim} "
                         f"is not twice the patch width {feature_dim}")
    return {"feature_dim": int(feature_dim), "projection_dim": int(projection_dim), "hidden_dim": int(hidden_dim),
            "num_patches": int(num_patches), "graph_num": graph_num}


def original_model_from_state_dict(state_dict: dict[str, torch.Tensor], source: str = "state_dict",
                                   sa_gate: str = "original") -> tuple[SPIRIT, dict[str, torch.Tensor]]:
    """Build SPIRIT from the authors' layout (strict) -> (model in eval mode, its CLIP state dict).

    `sa_gate="original"` evaluates the weights as they were trained (dead SA gate, see Combiner2).
    """
    fusion, clip_state = split_original_state_dict(state_dict, source=source)
    model = SPIRIT(**config_from_state_dict(fusion), sa_gate=sa_gate)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in fusion.items()}, strict=True)
    return model.eval(), clip_state


def save_spirit(model: SPIRIT, config: dict, path: str | Path, **extra) -> None:
    """Save our checkpoint atomically: {"model": fusion state dict, "config": SPIRIT kwargs, **extra}."""
    save_atomic({"model": model.state_dict(), "config": dict(config), **extra}, path)


def load_spirit(path: str | Path, map_location: str = "cpu") -> tuple[SPIRIT, dict]:
    """Load a checkpoint written by `save_spirit` or the authors' `{dataset}-best.pth` -> (model in eval mode, checkpoint)."""
    ckpt = load_checkpoint(path, map_location=map_location)
    if isinstance(ckpt, dict) and "model" in ckpt and "config" in ckpt:
        model = SPIRIT(**ckpt["config"])
        model.load_state_dict(ckpt["model"], strict=True)
        return model.eval(), ckpt
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path}: top level: expected a state dict, got {type(ckpt).__name__}")
    model, clip_state = original_model_from_state_dict(ckpt, source=str(path))
    return model, {"config": {**config_from_state_dict(model.state_dict()), "sa_gate": "original"}, "clip": clip_state}
