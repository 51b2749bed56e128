"""Checkpoints: a kill -9 during `save_atomic` leaves the previous file loadable; code-carrying pickles run nothing.

The hostile checkpoint's payload would create a folder when unpickled. Every loader a user can point at a
downloaded file (the core one, the CLIP weights reader and each paper's) must refuse it without running it;
only the explicit trust flag runs it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint, save_atomic
from tests.reliability.reliability_helpers import PYTHON, REPO, subprocess_env


class _CreatesFolder:
    """Unpickling this calls os.mkdir(marker): a stand-in for a malicious payload."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def _hostile_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "payload-ran"
    path = tmp_path / "downloaded.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "Phi": {"w": torch.ones(2)}, "model": {"w": torch.ones(2)},
                "payload": _CreatesFolder(marker)}, path)
    return path, marker


def _lincir(path):
    from lincir.models.phi import build_phi, load_phi
    load_phi(path, build_phi(32, 64, 0.0))


def _fashionern(path):
    from fashionern.models.weights import load_ern_weights
    load_ern_weights(torch.nn.Linear(2, 2), path)


def _spirit(path):
    from spirit.models.checkpoint import load_spirit
    load_spirit(path)


def _mai(path):
    from mai.models.convert import read_weights
    read_weights(path)


def _fti4cir(path):
    from fti4cir.models.convert import read_checkpoint
    read_checkpoint(path)


def _clip(path):
    from common.clip.weights import read_checkpoint
    read_checkpoint(path)


LOADERS = {"common.checkpoint": load_checkpoint, "common.clip": _clip, "lincir": _lincir, "fashionern": _fashionern,
           "spirit": _spirit, "mai": _mai, "fti4cir": _fti4cir}


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_code_carrying_checkpoint_is_refused_and_runs_nothing(loader, tmp_path):
    path, marker = _hostile_checkpoint(tmp_path)
    with pytest.raises(Exception) as err:
        loader(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert not marker.exists()


def test_trust_flag_runs_the_payload(tmp_path):
    path, marker = _hostile_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="trust=True"):
        load_checkpoint(path)
    assert not marker.exists()
    load_checkpoint(path, trust=True)
    assert marker.is_dir()  # so the refusal above really prevented code execution


SAVER = """
import sys, torch
from common.checkpoint import save_atomic
print("saving", flush=True)
save_atomic({"w": torch.full((24_000_000,), 2.0)}, sys.argv[1])
print("saved", flush=True)
"""


@pytest.mark.slow
def test_kill_during_save_atomic_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_atomic({"w": torch.arange(5.0)}, path)
    child = subprocess.Popen([PYTHON, "-c", SAVER, str(path)], cwd=REPO, env=subprocess_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        partial = []
        while time.monotonic() < deadline and child.poll() is None:
            partial = [p for p in tmp_path.glob(".last.pt.*.tmp") if p.stat().st_size > 1_000_000]
            if partial:
                break
            time.sleep(0.005)
        assert partial, f"the new checkpoint was never seen half-written (exit {child.poll()})"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert partial[0].exists() and partial[0].stat().st_size < 96_000_000  # killed mid-write, litter left behind
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(5.0))
    save_atomic({"w": torch.arange(6.0)}, path)  # the litter does not stop the next save
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(6.0))
