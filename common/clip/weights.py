"""Reading CLIP checkpoints (OpenAI JIT archives, state dicts, CLIP4Cir `{"CLIP": ...}` files); strict loading."""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from common.checkpoint import load_checkpoint

# Non-parameter entries OpenAI's JIT archives carry in their state dict.
_OPENAI_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
FOLDER_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "open_clip_model.pt")


def openai_clip_cache() -> Path:
    """~/.cache/clip: where OpenAI clip and open_clip keep checkpoints downloaded from a URL."""
    return Path(os.path.expanduser("~/.cache/clip"))


@dataclass
class Checkpoint:
    """A state dict plus where it came from: "jit" (OpenAI archive), "clip4cir" ({"CLIP": ...}) or "state_dict"."""

    state_dict: dict[str, torch.Tensor]
    kind: str
    path: Path


def missing_weight_error(what: str, where: str) -> FileNotFoundError:
    """The one-line error every loader raises for a missing weight file."""
    return FileNotFoundError(f"{what} not found: put it at {where} (no download is attempted)")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") for name in archive.namelist())


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Load a CLIP state dict from a file or an open_clip weights folder; unwraps CLIP4Cir's "CLIP" entry and
    training "state_dict" wrappers, strips DDP's "module." prefix and OpenAI's non-tensor metadata entries."""
    path = Path(path)
    if path.is_dir():  # an open_clip / HF-hub style folder
        found = [path / name for name in FOLDER_WEIGHT_FILES if (path / name).is_file()]
        if not found:
            raise missing_weight_error(f"CLIP weights in {path}", f"{path}/{FOLDER_WEIGHT_FILES[0]}")
        path = found[0]
    if not path.is_file():
        raise missing_weight_error(f"CLIP checkpoint {path}", str(path))
    if _is_torchscript(path):
        state = torch.jit.load(str(path), map_location="cpu").state_dict()
        kind = "jit"
    elif path.suffix == ".safetensors":
        from safetensors.torch import load_file
        state, kind = load_file(str(path)), "state_dict"
    else:
        state = load_checkpoint(path)
        kind = "state_dict"
        if isinstance(state, dict) and "CLIP" in state:
            state, kind = state["CLIP"], "clip4cir"
        elif isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a CLIP state dict (expected a mapping of parameter names to tensors)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    state = {k: v for k, v in state.items() if k not in _OPENAI_METADATA_KEYS}
    return Checkpoint(state_dict=state, kind=kind, path=path)


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load with a one-line error naming `source` and the first offending keys."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        detail = next((line.strip() for line in str(error).splitlines() if "size mismatch" in line), str(error))
        raise ValueError(f"{source}: weights do not fit the {type(model).__name__} model: {detail}") from None
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(f"{source}: weights do not fit the {type(model).__name__} model: "
                         f"{len(result.missing_keys)} missing keys {result.missing_keys[:3]}, "
                         f"{len(result.unexpected_keys)} unexpected keys {result.unexpected_keys[:3]}")
