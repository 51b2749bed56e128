"""`load_clip`: resolve a CLIP name + local weights to a `ClipBackbone` in the requested backend; never downloads."""
from __future__ import annotations

import json
import os
from pathlib import Path

import open_clip
import torch
from huggingface_hub import try_to_load_from_cache
from torch import nn

from common.checkpoint import load_checkpoint
from common.clip.arch import ClipArch
from common.clip.backbone import ClipBackbone
from common.clip.convert import build_hf_models, build_openai_model
from common.clip.hf_backend import HFClipBackbone
from common.clip.open_clip_backend import OpenClipBackbone
from common.clip.openai_backend import OpenAIClipBackbone
from common.clip.weights import load_state_strict, missing_weight_error, openai_clip_cache, read_checkpoint

BACKENDS = ("auto", "openai", "open_clip", "hf")
SYNTHETIC_TINY = "synthetic-tiny"
# LinCIR's --clip_model_name values -> HF hub ids (the original loads "giga" from Geonmo/CLIP-Giga-config-fixed,
# a copy of the LAION bigG weights with a fixed config; pass that folder as `pretrained` to use it).
LINCIR_HF_IDS = {
    "large": "openai/clip-vit-large-patch14",
    "huge": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    "giga": "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
}
LINCIR_OPEN_CLIP = {"large": ("ViT-L-14", "openai"), "huge": ("ViT-H-14", "laion2b_s32b_b79k"),
                    "giga": ("ViT-bigG-14", "laion2b_s39b_b160k")}
# OpenAI clip names ("ViT-B/16", "ViT-L/14@336px", "RN50x4") <-> open_clip names ("ViT-B-16", "ViT-L-14-336").
OPENAI_NAMES = ("RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336px")
OPEN_CLIP_TO_OPENAI = {n.replace("/", "-").replace("@336px", "-336"): n for n in OPENAI_NAMES}
TINY_CONFIG_FILE, TINY_WEIGHTS_FILE = "synthetic-tiny.json", "open_clip_model.pt"


def load_clip(name: str, backend: str = "auto", pretrained: str | os.PathLike | None = None,
              device: str | torch.device = "cpu", cache_dir: str | os.PathLike | None = None) -> ClipBackbone:
    """Load CLIP `name` from local weights through `backend` ("openai" | "open_clip" | "hf" | "auto").

    name: an OpenAI/open_clip model name ("RN50x4", "ViT-B/16", "ViT-B-16", ...), LinCIR's "large"/"huge"/"giga",
    an HF hub id, or "synthetic-tiny". pretrained: a checkpoint file (OpenAI JIT, state dict, CLIP4Cir
    {"CLIP": ...}), an open_clip pretrained tag found in the local cache, or a folder (HF model, synthetic-tiny).
    cache_dir: the HF cache holding hub ids (HF backend; default the standard HF cache), as the originals'
    `--cache_dir`. A missing weight raises FileNotFoundError saying which file to put where.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if name == SYNTHETIC_TINY:
        backbone = _load_synthetic_tiny(pretrained, "open_clip" if backend == "auto" else backend)
    else:
        backend = _auto_backend(name, pretrained) if backend == "auto" else backend
        pretrained = None if pretrained is None else str(pretrained)
        if backend == "hf":
            backbone = _load_hf(name, pretrained, None if cache_dir is None else str(cache_dir))
        else:
            backbone = {"openai": _load_openai, "open_clip": _load_open_clip}[backend](name, pretrained)
    return backbone.to(device)


def backbone_from_open_clip_state(name: str, config: dict, state: dict[str, torch.Tensor], backend: str,
                                  source: str = "open_clip config") -> ClipBackbone:
    """Build `backend`'s CLIP from an open_clip model config + state dict (converting for "openai"/"hf")."""
    if backend == "open_clip":
        model = open_clip_model_from_config(config, source)
        load_state_strict(model, state, source)
        return OpenClipBackbone(name, model)
    arch = ClipArch.from_open_clip_config(config, source)
    if backend == "openai":
        model = build_openai_model(arch)
        load_state_strict(model, state, source)
        return OpenAIClipBackbone(name, model)
    if backend == "hf":
        return HFClipBackbone(name, *build_hf_models(arch, state, source))
    raise ValueError(f"backend must be 'openai', 'open_clip' or 'hf', got {backend!r}")


def open_clip_model_from_config(config: dict, source: str = "open_clip config") -> nn.Module:
    """A randomly initialised open_clip `CLIP` (or `CustomTextCLIP`) from a model config dict."""
    config = dict(config)
    model_class = open_clip.CustomTextCLIP if config.pop("custom_text", False) else open_clip.CLIP
    try:
        return model_class(**config)
    except TypeError as error:
        raise ValueError(f"{source}: not an open_clip model config ({error})") from None


def _auto_backend(name: str, pretrained: str | os.PathLike | None) -> str:
    if name in LINCIR_HF_IDS or (pretrained is not None and (Path(pretrained) / "config.json").is_file()):
        return "hf"
    if name in OPENAI_NAMES and "/" in name:
        return "openai"
    if name in open_clip.list_models():
        return "open_clip"
    if name.count("/") == 1:
        return "hf"
    raise ValueError(f"unknown CLIP name {name!r}: use an open_clip name ({', '.join(OPEN_CLIP_TO_OPENAI)}, ...), "
                     f"an OpenAI name ({', '.join(OPENAI_NAMES)}), {', '.join(LINCIR_HF_IDS)}, an HF hub id "
                     f"or {SYNTHETIC_TINY!r}")


# ---- synthetic-tiny ------------------------------------------------------------------------------------------------
def _load_synthetic_tiny(pretrained: str | os.PathLike | None, backend: str) -> ClipBackbone:
    if pretrained is None:
        from common.synthetic.tiny_clip import tiny_clip_dir  # built by common.synthetic; import only when asked
        folder = Path(tiny_clip_dir(0))
    else:
        folder = Path(pretrained)
    config_path, weights_path = folder / TINY_CONFIG_FILE, folder / TINY_WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise missing_weight_error(f"synthetic-tiny file {path.name}",
                                       f"{path} (python -m common.synthetic.tiny_clip)")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path}: not valid JSON: {error}") from None
    state = load_checkpoint(weights_path)
    return backbone_from_open_clip_state(SYNTHETIC_TINY, config, state, backend, source=str(folder))


# ---- open_clip -----------------------------------------------------------------------------------------------------
def _open_clip_name(name: str) -> tuple[str, str | None]:
    """(open_clip model name, default pretrained tag)."""
    if name in LINCIR_OPEN_CLIP:
        return LINCIR_OPEN_CLIP[name]
    model_name = {v: k for k, v in OPEN_CLIP_TO_OPENAI.items()}.get(name, name)
    if model_name not in open_clip.list_models():
        raise ValueError(f"{name!r} is not an open_clip model name (see open_clip.list_models())")
    return model_name, "openai" if model_name in OPEN_CLIP_TO_OPENAI else None


def _cached_pretrained_file(model_name: str, tag: str) -> Path:
    """The local file of an open_clip pretrained tag (HF cache or ~/.cache/clip), or a FileNotFoundError."""
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    places = []
    if cfg.get("hf_hub"):
        hub = cfg["hf_hub"]  # "org/repo/" (default file names) or "org/repo/file"
        repo_id, filename = (hub.rstrip("/"), "") if hub.endswith("/") else os.path.split(hub)
        candidates = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for candidate in candidates:
            found = try_to_load_from_cache(repo_id, candidate)
            if isinstance(found, str):
                return Path(found)
        places.append(f"the HF cache as {repo_id}/{' or '.join(candidates)}")
    if cfg.get("url"):
        local = openai_clip_cache() / os.path.basename(cfg["url"])
        if local.is_file():
            return local
        places.append(str(local))
    raise missing_weight_error(f"open_clip weights {model_name}/{tag}", " or ".join(places) or "pretrained=<file>")


def _load_open_clip(name: str, pretrained: str | None) -> ClipBackbone:
    model_name, default_tag = _open_clip_name(name)
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    pretrained = pretrained or default_tag
    quick_gelu = False
    if pretrained is None:
        raise FileNotFoundError(f"no weights for {model_name}: pass pretrained=<checkpoint file> or one of the "
                                f"open_clip tags {tags} whose file is in the local cache (no download is attempted)")
    if pretrained in tags and not Path(pretrained).exists():
        quick_gelu = bool(open_clip.get_pretrained_cfg(model_name, pretrained).get("quick_gelu", False))
        pretrained = str(_cached_pretrained_file(model_name, pretrained))
    checkpoint = read_checkpoint(pretrained)
    # OpenAI weights (JIT archives, CLIP4Cir fine-tunes of OpenAI CLIP) were trained with QuickGELU.
    quick_gelu = quick_gelu or checkpoint.kind in ("jit", "clip4cir")
    config = open_clip.get_model_config(model_name)
    if config.get("text_cfg", {}).get("hf_model_name") or config.get("vision_cfg", {}).get("timm_model_name"):
        raise ValueError(f"{model_name}: HF-text or timm-image towers are not standard CLIP towers; "
                         f"this interface supports OpenAI-layout ViT / ModifiedResNet CLIPs")
    model = open_clip_model_from_config({**config, "quick_gelu": config.get("quick_gelu", False) or quick_gelu},
                                         model_name)
    state = checkpoint.state_dict
    if hasattr(model, "text") and not any(k.startswith("text.") for k in state):
        state = open_clip.model.convert_to_custom_text_state_dict(state)
    load_state_strict(model, state, str(checkpoint.path))
    return OpenClipBackbone(name, model)


# ---- OpenAI clip ---------------------------------------------------------------------------------------------------
def _load_openai(name: str, pretrained: str | None) -> ClipBackbone:
    openai_name = OPEN_CLIP_TO_OPENAI.get(name, name)
    if pretrained is None:
        if openai_name not in OPENAI_NAMES:
            raise ValueError(f"{name!r} is not an OpenAI CLIP name ({', '.join(OPENAI_NAMES)}); pass pretrained=<file>")
        open_clip_name = {v: k for k, v in OPEN_CLIP_TO_OPENAI.items()}[openai_name]
        url = open_clip.get_pretrained_cfg(open_clip_name, "openai")["url"]
        pretrained = str(openai_clip_cache() / os.path.basename(url))
        if not Path(pretrained).is_file():
            raise missing_weight_error(f"OpenAI CLIP {openai_name} weights", pretrained)
    checkpoint = read_checkpoint(pretrained)
    arch = ClipArch.from_openai_state_dict(checkpoint.state_dict, quick_gelu=True, source=str(checkpoint.path))
    model = build_openai_model(arch)
    load_state_strict(model, checkpoint.state_dict, str(checkpoint.path))
    return OpenAIClipBackbone(name, model)


# ---- HF transformers -----------------------------------------------------------------------------------------------
def _load_hf(name: str, pretrained: str | None, cache_dir: str | None = None) -> ClipBackbone:
    from transformers import CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    if pretrained is not None and Path(pretrained).is_file():  # an OpenAI-layout file, e.g. a CLIP4Cir fine-tune
        checkpoint = read_checkpoint(pretrained)
        arch = ClipArch.from_openai_state_dict(checkpoint.state_dict, quick_gelu=True, source=str(checkpoint.path))
        return HFClipBackbone(name, *build_hf_models(arch, checkpoint.state_dict, str(checkpoint.path)))
    source = pretrained or LINCIR_HF_IDS.get(name, name)
    try:
        vision = CLIPVisionModelWithProjection.from_pretrained(source, local_files_only=True, cache_dir=cache_dir)
        text = CLIPTextModelWithProjection.from_pretrained(source, local_files_only=True, cache_dir=cache_dir)
    except OSError:
        where = "the HF cache" if cache_dir is None else f"the HF cache {cache_dir}"
        raise missing_weight_error(
            f"HF CLIP {source}", f"a local folder passed as pretrained=, or {where} "
            f"(`huggingface-cli download {source}` on a connected machine)") from None
    return HFClipBackbone(name, vision.float(), text.float())
