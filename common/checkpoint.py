"""Atomic saving, safe (weights-only) loading, resumable training state and best-checkpoint keeping."""
from __future__ import annotations

import os
import pickle
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.atomic import atomic_write, write_json_atomic

__all__ = ["CheckpointError", "atomic_write", "write_json_atomic", "save_atomic", "load_checkpoint", "unwrap_model",
           "rng_state", "set_rng_state", "ResumeState", "save_resume", "load_resume", "resume_position", "BestKeeper"]


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded safely or does not hold what is expected."""


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save(obj, path)` atomically (temporary file in the same folder + fsync + os.replace)."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def load_checkpoint(path: str | os.PathLike, trust: bool = False,
                    map_location: str | torch.device = "cpu", mmap: bool = False) -> Any:
    """Load a torch checkpoint with `weights_only=True` unless `trust` (which runs the pickle's code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust, mmap=mmap)
    except pickle.UnpicklingError as err:
        if trust:
            raise CheckpointError(f"{path}: cannot unpickle: {err}".splitlines()[0]) from None
        reason = next((line.strip() for line in str(err).splitlines() if "Unsupported global" in line),
                      str(err).splitlines()[0] if str(err) else "pickled objects other than tensors")
        raise CheckpointError(
            f"{path}: refused to load code-carrying pickle with weights_only=True ({reason}); "
            "if you trust its source, load it with common.checkpoint.load_checkpoint(path, trust=True)") from None
    except Exception as err:  # truncated, corrupt or foreign files fail with many exception types
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable torch checkpoint: {detail}") from None


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel/DataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def rng_state() -> dict[str, Any]:
    """RNG states of python, numpy and torch (CPU and CUDA) in a weights_only-loadable form."""
    version, internal, gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [np_kind, torch.from_numpy(np_keys.astype(np.int64)), np_pos, np_has_gauss, np_gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the RNG states saved by `rng_state()`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class ResumeState:
    """Counters restored by `load_resume`; `extra` holds whatever the caller saved alongside."""

    epoch: int
    step: int
    extra: dict[str, Any] = field(default_factory=dict)


def save_resume(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                scheduler: Any | None = None, scaler: Any | None = None, epoch: int = 0, step: int = 0,
                extra: Mapping[str, Any] | None = None, rng_states: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Atomically save everything needed to resume training: states, counters and RNG states.

    `rng_states`: every rank's `rng_state()` in rank order (`common.dist.gather_object(rng_state())`, gathered by
    all ranks before the main one saves); default: this process's alone.
    """
    payload = {
        "model": unwrap_model(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "rng": list(rng_states) if rng_states is not None else [rng_state()],
        "extra": dict(extra or {}),
    }
    return save_atomic(payload, path)


def load_resume(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                scheduler: Any | None = None, scaler: Any | None = None, map_location: str | torch.device = "cpu",
                restore_rng: bool = True, trust: bool = False, rank: int = 0) -> ResumeState:
    """Restore a `save_resume` file into the given objects (model strictly) and return the counters.

    `rank` picks which saved process's RNG state this process continues from (its own rank under torchrun).
    """
    payload = load_checkpoint(path, trust=trust, map_location=map_location)
    missing = [key for key in ("model", "epoch", "step", "rng") if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: not a resume checkpoint, missing {missing}")
    saved = payload["rng"]
    if restore_rng and not (isinstance(saved, list) and 0 <= rank < len(saved)):
        count = len(saved) if isinstance(saved, list) else "no list of"
        raise CheckpointError(f"{path}: rng: states of {count} process(es) saved, none for rank {rank}")
    try:
        unwrap_model(model).load_state_dict(payload["model"], strict=True)
    except RuntimeError as err:  # a checkpoint of another model: name the file and the first mismatch
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err))
        raise CheckpointError(f"{path}: model: does not fit {type(unwrap_model(model)).__name__}: {detail}") from None
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if target is None:
            continue
        if payload.get(name) is None:
            raise CheckpointError(f"{path}: {name}: no saved state to restore")
        target.load_state_dict(payload[name])
    if restore_rng:
        set_rng_state(saved[rank])
    return ResumeState(epoch=payload["epoch"], step=payload["step"], extra=payload.get("extra", {}))


def resume_position(source: str | os.PathLike, step: int, steps_per_epoch: int,
                    epoch: int | None = None) -> tuple[int, int]:
    """(epoch to continue, batches of it already done) for a state saved after `step` optimizer steps.

    With the `epoch` the state was saved in, a state saved at an epoch's last step continues with that epoch's end
    (validation, per-epoch checkpoint), which the interrupted run may not have reached; without it (files of older
    versions), `divmod`. A step outside the saved epoch means another batch size, data or process count.
    """
    if epoch is None:
        return divmod(step, steps_per_epoch)
    done = step - epoch * steps_per_epoch
    if not 0 < done <= steps_per_epoch:
        raise CheckpointError(f"{source}: step: {step} is not in epoch {epoch} of {steps_per_epoch} steps; resumed "
                              "with another batch size, data or number of processes?")
    return epoch, done


class BestKeeper:
    """Track the best value of one metric; `update` says whether a new best was reached."""

    def __init__(self, metric_name: str, mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"BestKeeper: mode must be 'max' or 'min', got {mode!r}")
        self.metric_name = metric_name
        self.mode = mode
        self.best: float | None = None
        self.best_step: int | None = None

    def is_better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def update(self, metrics: Mapping[str, float], step: int | None = None) -> bool:
        """Record `metrics[metric_name]`; True if it is the new best."""
        if self.metric_name not in metrics:
            raise KeyError(f"BestKeeper: metric {self.metric_name!r} not in {sorted(metrics)}")
        value = float(metrics[self.metric_name])
        if not self.is_better(value):
            return False
        self.best, self.best_step = value, step
        return True

    def save_if_best(self, metrics: Mapping[str, float], obj: Any, path: str | os.PathLike,
                     step: int | None = None) -> bool:
        """`update`, and atomically save `obj` to `path` when it is a new best."""
        improved = self.update(metrics, step)
        if improved:
            save_atomic(obj, path)
        return improved

    def state_dict(self) -> dict[str, Any]:
        return {"metric_name": self.metric_name, "mode": self.mode, "best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state["metric_name"] != self.metric_name or state["mode"] != self.mode:
            raise ValueError(f"BestKeeper: saved state tracks {state['metric_name']!r}/{state['mode']}, "
                             f"not {self.metric_name!r}/{self.mode}")
        self.best, self.best_step = state["best"], state["best_step"]
