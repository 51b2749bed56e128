"""Exponential moving average of a model's parameters with the original warm-up decay."""
from __future__ import annotations

import torch
from torch import nn


class EMAModel:
    """`decay_t = min(decay, (1 + t) / (10 + t))`; `shadow -= (1 - decay_t) * (shadow - param)`."""

    def __init__(self, model: nn.Module, decay: float = 0.9999):
        self.decay = decay
        self.optimization_step = 0
        self.shadow = [p.detach().clone() for p in model.parameters()]

    def current_decay(self) -> float:
        t = self.optimization_step
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        decay = self.current_decay()
        self.optimization_step += 1
        for s, p in zip(self.shadow, model.parameters()):
            s.sub_((1.0 - decay) * (s - p.detach()))

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for s, p in zip(self.shadow, model.parameters()):
            p.copy_(s)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "optimization_step": self.optimization_step, "shadow": list(self.shadow)}

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        self.optimization_step = int(state["optimization_step"])
        if len(state["shadow"]) != len(self.shadow):
            raise ValueError(f"EMA state has {len(state['shadow'])} tensors, the model {len(self.shadow)}")
        # onto the model's devices and dtypes: a resume state is loaded on the CPU, the model may be on a GPU
        self.shadow = [t.to(device=s.device, dtype=s.dtype, copy=True) for t, s in zip(state["shadow"], self.shadow)]
