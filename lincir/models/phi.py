"""LinCIR's Phi: sizing for a backbone and strict loading of the original `{'Phi': ...}` checkpoints."""
from __future__ import annotations

import os

from common.checkpoint import load_checkpoint
from common.phi import Phi


def build_phi(embed_dim: int, text_width: int, dropout: float = 0.5) -> Phi:
    """The original sizing: hidden = 4 × the projected embedding dim (ViT-L: 768 -> 3072 -> 768)."""
    return Phi(embed_dim, 4 * embed_dim, text_width, dropout)


def load_phi(path: str | os.PathLike, phi: Phi, key: str = "Phi", trust: bool = False) -> int:
    """Load `{'epoch': step, 'Phi': state_dict}` (the original format, incl. `lincir_large.pt`) strictly.

    Returns the stored step. A checkpoint of another backbone fails with the file and the shapes.
    """
    ckpt = load_checkpoint(path, trust=trust)
    if not isinstance(ckpt, dict) or key not in ckpt:
        found = sorted(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: no '{key}' entry (found {found}); not a LinCIR/SEARLE phi checkpoint")
    state = ckpt[key]
    expected = {k: tuple(v.shape) for k, v in phi.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        diff = sorted(set(expected.items()) ^ set(got.items()))[:2]
        raise ValueError(f"{path}: '{key}' does not fit this Phi ({phi.input_dim}->{phi.hidden_dim}->"
                         f"{phi.output_dim}); first differences {diff}: checkpoint of another backbone?")
    phi.load_state_dict(state, strict=True)
    return int(ckpt.get("epoch", 0))
