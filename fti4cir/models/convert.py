"""Load FTI4CIR weights: our checkpoints, plain state dicts, and the original pickled `IMG2TEXT` module.

The original release (`FTI4CIR_model.pth`) is `torch.save(img2text)` — a whole pickled module that
`torch.load` can only open by importing the authors' `i2t_model`/`MHTransformer` and executing pickle.
Here it is read with a restricted unpickler: tensors, containers and placeholder objects for the
module classes are rebuilt, every other global is refused, and nothing from the file runs.
"""
from __future__ import annotations

import os
import pickle
import types
from pathlib import Path

import torch

from fti4cir.models.fti_network import FTI4CIR, FTIConfig

CHECKPOINT_FORMAT = "fti4cir"

_SAFE_GLOBALS = {
    ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "object"), ("copyreg", "_reconstructor"),
    ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"), ("torch._tensor", "_rebuild_from_type_v2"),
}
_ORIGINAL_PACKAGES = ("i2t_model", "MHTransformer", "clip")


class IncompatibleCheckpointError(ValueError):
    """A checkpoint that is not an FTI4CIR model of the expected sizes."""


class _PickledObject:
    """Stands in for a pickled nn.Module (or function) of the original code: keeps only its attributes."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)  # protocol-2 names
        if (module, name) in _SAFE_GLOBALS or (module == "torch" and name.endswith("Storage")):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.split(".")[0] in _ORIGINAL_PACKAGES or module == "torch.nn" or module.startswith("torch.nn."):
            return _PickledObject
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")


_restricted_pickle = types.ModuleType("fti4cir_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler
_restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()


def _flatten_module(obj: _PickledObject, prefix: str = "") -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    attrs = obj.__dict__
    for name, value in {**attrs.get("_parameters", {}), **attrs.get("_buffers", {})}.items():
        if value is not None and name not in attrs.get("_non_persistent_buffers_set", set()):
            state[prefix + name] = value.detach()
    for name, child in attrs.get("_modules", {}).items():
        if child is not None:
            state.update(_flatten_module(child, f"{prefix}{name}."))
    return state


def _config_from_state(state: dict[str, torch.Tensor], **known) -> FTIConfig:
    """Sizes from the tensor shapes; hyper-parameters that shape no tensor from `known` or the defaults."""
    _, num_k, patch_dim = state["templates"].shape
    layers = {k.split(".")[2] for k in state if k.startswith("transformer.layers.")}
    values = dict(patch_dim=patch_dim, num_k=num_k, embed_dim=state["phi_s.layers.0.weight"].shape[1],
                  token_dim=state["phi_s.layers.6.weight"].shape[0], tf_layer=len(layers))
    values.update({k: v for k, v in known.items() if v is not None})
    return FTIConfig(**values)


def read_checkpoint(path: str | os.PathLike) -> tuple[FTIConfig, dict[str, torch.Tensor]]:
    """(config, state_dict) from any supported FTI4CIR checkpoint file, without executing its contents."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: FTI4CIR checkpoint not found (train one with fti4cir/run/train.py or "
                                f"download the authors' FTI4CIR_model.pth)")
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle, weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise IncompatibleCheckpointError(f"{path}: not a readable FTI4CIR checkpoint: {error}") from None
    if isinstance(obj, _PickledObject):  # the original torch.save(img2text)
        attrs = obj.__dict__
        state = _flatten_module(obj)
        heads = {getattr(layer.__dict__["_modules"].get("attn"), "num_heads", None)
                 for layer in _transformer_layers(obj)}
        config_known = dict(topk=attrs.get("topk"), epsilon=attrs.get("epsilon"),
                            tf_head=heads.pop() if len(heads) == 1 else None)
    elif isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        state, config_known = obj["state_dict"], obj["config"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state, config_known = {k.removeprefix("module."): v for k, v in obj.items()}, {}
    else:
        raise IncompatibleCheckpointError(f"{path}: not an FTI4CIR checkpoint (found {type(obj).__name__} with "
                                          f"keys {sorted(obj)[:5] if isinstance(obj, dict) else 'n/a'})")
    for key in ("templates", "phi_s.layers.0.weight", "phi_s.layers.6.weight"):
        if key not in state:
            raise IncompatibleCheckpointError(f"{path}: not an FTI4CIR checkpoint: missing key {key!r}")
    return _config_from_state(state, **config_known), state


def _transformer_layers(module: _PickledObject) -> list[_PickledObject]:
    transformer = module.__dict__.get("_modules", {}).get("transformer")
    layers = transformer.__dict__.get("_modules", {}).get("layers") if transformer is not None else None
    return list(layers.__dict__.get("_modules", {}).values()) if layers is not None else []


def load_fti4cir(path: str | os.PathLike, expected: dict[str, int] | None = None) -> FTI4CIR:
    """Build an FTI4CIR from `path`, loading strictly.

    `expected` holds sizes the backbone dictates (`patch_dim`, `embed_dim`, `token_dim`); a checkpoint
    made for another backbone raises IncompatibleCheckpointError naming the file and the sizes.
    """
    config, state = read_checkpoint(path)
    for field, value in (expected or {}).items():
        if getattr(config, field) != value:
            raise IncompatibleCheckpointError(f"{path}: checkpoint has {field}={getattr(config, field)} but the "
                                              f"backbone needs {field}={value} (trained for another CLIP?)")
    model = FTI4CIR(config)
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise IncompatibleCheckpointError(f"{path}: key mismatch: missing {missing[:4]}, unexpected {unexpected[:4]}")
    for key, value in own.items():
        if value.shape != state[key].shape:
            raise IncompatibleCheckpointError(f"{path}: {key}: shape {tuple(state[key].shape)} in the checkpoint, "
                                              f"{tuple(value.shape)} in the model")
    model.load_state_dict(state, strict=True)
    return model


def checkpoint_payload(model: FTI4CIR, **extra) -> dict:
    """Our checkpoint: config + state dict (+ extra primitives), loadable with weights_only=True."""
    return {"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
