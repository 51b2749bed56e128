"""Atomic saves, weights-only loading that refuses pickled code, resume round trip, best keeping."""
import os
import random

import numpy as np
import pytest
import torch

from common.checkpoint import (BestKeeper, CheckpointError, load_checkpoint, load_resume, resume_position, rng_state,
                               save_atomic, save_resume)


class _FailsWhilePickling:
    def __reduce__(self):
        raise RuntimeError("disk full (simulated)")


class _RunsCode:
    """Unpickling this calls os.mkdir(marker): a stand-in for a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_save_atomic_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.arange(4)}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        save_atomic({"w": torch.zeros(1000), "bad": _FailsWhilePickling()}, path)
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_weights_only_refuses_code_and_runs_nothing(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"state": torch.ones(2), "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "trust=True" in message
    assert not marker.exists()
    load_checkpoint(path, trust=True)  # the opt-in really does run the pickle's code
    assert marker.exists()


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt: checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.pt")


def _train_steps(model, optimizer, scheduler, n):
    losses = []
    for _ in range(n):
        x = torch.randn(8, 4)
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses, (random.random(), float(np.random.rand()), torch.rand(1).item())


def _fresh():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    return model, optimizer, scheduler


def test_resume_round_trip_continues_identically(tmp_path):
    torch.manual_seed(0)
    model, optimizer, scheduler = _fresh()
    scaler = torch.amp.GradScaler("cpu", init_scale=128.0)
    _train_steps(model, optimizer, scheduler, 2)
    save_resume(tmp_path / "resume.pt", model, optimizer, scheduler, scaler, epoch=1, step=2, extra={"best": 3.5})
    expected = _train_steps(model, optimizer, scheduler, 3)

    torch.manual_seed(123)
    random.seed(5)
    model2, optimizer2, scheduler2 = _fresh()
    scaler2 = torch.amp.GradScaler("cpu", init_scale=1.0)
    state = load_resume(tmp_path / "resume.pt", model2, optimizer2, scheduler2, scaler2)
    assert (state.epoch, state.step, state.extra) == (1, 2, {"best": 3.5})
    assert scaler2.get_scale() == 128.0
    assert _train_steps(model2, optimizer2, scheduler2, 3) == expected


def test_resume_restores_the_rng_state_of_the_given_rank(tmp_path):
    model = torch.nn.Linear(2, 2)
    torch.manual_seed(1)
    rank0 = rng_state()
    torch.manual_seed(2)
    rank1 = rng_state()
    expected_rank1 = torch.rand(3)
    save_resume(tmp_path / "resume.pt", model, rng_states=[rank0, rank1])
    torch.manual_seed(99)
    load_resume(tmp_path / "resume.pt", torch.nn.Linear(2, 2), rank=1)
    assert torch.equal(torch.rand(3), expected_rank1)
    untouched = torch.nn.Linear(2, 2)
    before = untouched.weight.clone()
    with pytest.raises(CheckpointError, match=r"resume\.pt: rng: states of 2 process\(es\) saved, none for rank 2$"):
        load_resume(tmp_path / "resume.pt", untouched, rank=2)
    assert torch.equal(untouched.weight, before)  # refused before anything was loaded


def test_resume_position_from_the_saved_epoch_or_divmod():
    assert resume_position("r.pt", 7, 3, epoch=2) == (2, 1)  # mid-epoch
    assert resume_position("r.pt", 6, 3, epoch=1) == (1, 3)  # saved at epoch 1's last step: its end still runs
    assert resume_position("r.pt", 6, 3) == (2, 0)  # no saved epoch (older files): divmod
    with pytest.raises(CheckpointError, match=r"^r\.pt: step: 6 is not in epoch 0 of 3 steps"):
        resume_position("r.pt", 6, 3, epoch=0)


def test_resume_refuses_a_plain_weights_file(tmp_path):
    save_atomic({"weight": torch.zeros(1)}, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="not a resume checkpoint"):
        load_resume(tmp_path / "w.pt", torch.nn.Linear(1, 1))


def test_best_keeper_max_min_and_state(tmp_path):
    keeper = BestKeeper("avg")
    assert keeper.update({"avg": 10.0}, step=1)
    assert not keeper.update({"avg": 9.0}, step=2)
    assert keeper.save_if_best({"avg": 12.0}, {"w": torch.ones(1)}, tmp_path / "best.pt", step=3)
    assert (keeper.best, keeper.best_step) == (12.0, 3) and (tmp_path / "best.pt").exists()
    assert not keeper.save_if_best({"avg": 11.0}, {"w": torch.zeros(1)}, tmp_path / "best.pt")
    assert torch.equal(load_checkpoint(tmp_path / "best.pt")["w"], torch.ones(1))
    restored = BestKeeper("avg")
    restored.load_state_dict(keeper.state_dict())
    assert not restored.update({"avg": 12.0})
    low = BestKeeper("loss", mode="min")
    assert low.update({"loss": 1.0}) and low.update({"loss": 0.5}) and not low.update({"loss": 0.7})
    with pytest.raises(KeyError, match="'avg' not in"):
        keeper.update({"R@1": 1.0})
