"""kill -9 a training run mid-epoch, resume it from its last checkpoint: the final weights and metrics equal
those of an uninterrupted run (CPU, fixed seeds), for one method of each family.

The killed run is a subprocess SIGKILLed right before a chosen optimizer step (between two checkpoints, so
some progress is lost and must be redone identically); the uninterrupted and the resumed runs call the same
entry point's `main` in-process.
"""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint
from tests.reliability.reliability_helpers import run, run_killed_at_step


# the killed subprocess runs single-threaded; the in-process runs must too (thread count changes float sums)
pytestmark = pytest.mark.usefixtures("single_thread")


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["metrics"]


def _uninterrupted_then_killed(main, script: str, argv, tmp_path: Path, kill_at: int) -> tuple[Path, Path]:
    """Run `argv(out)` in-process to the end, then as a subprocess killed right before optimizer step `kill_at`.

    Returns the (uninterrupted, interrupted) run folders; the killed run has written no metrics.
    """
    reference, interrupted = tmp_path / "uninterrupted", tmp_path / "interrupted"
    main(argv(reference))
    killed = run_killed_at_step(script, argv(interrupted), kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert f"killing at optimizer step {kill_at}" in killed.stdout
    assert not (interrupted / "metrics.json").exists()
    return reference, interrupted


# ---- zero-shot: LinCIR (lincir/train_phi.py --checkpointing_steps / --resume_from_checkpoint latest) -----------------
def _lincir_argv(root: Path, clip_dir: Path, out: Path) -> list[str]:
    # 48 captions / batch 8 = 6 steps per epoch; a checkpoint at step 4 (mid-epoch 0); 8 steps in all
    return ["--clip_model_name", "synthetic-tiny", "--clip_pretrained", str(clip_dir), "--data-root", str(root),
            "--output_dir", str(out), "--batch_size", "8", "--max_train_steps", "8", "--checkpointing_steps", "4",
            "--learning_rate", "1e-3", "--seed", "3", "--device", "cpu"]


@pytest.mark.slow
def test_lincir_resumes_exactly_after_kill(micro_root, clip_dir, tmp_path):
    from lincir.train_phi import main

    reference, interrupted = _uninterrupted_then_killed(
        main, "lincir/train_phi.py", lambda out: _lincir_argv(micro_root, clip_dir, out), tmp_path, kill_at=6)
    last = load_checkpoint(interrupted / "checkpoints" / "resume_latest.pt")
    assert last["step"] == 4  # the resumed run starts mid-epoch (batch 4 of 6); step 5 is redone

    main([*_lincir_argv(micro_root, clip_dir, interrupted), "--resume_from_checkpoint", "latest"])
    final = load_checkpoint(interrupted / "checkpoints" / "phi_latest.pt")
    expected = load_checkpoint(reference / "checkpoints" / "phi_latest.pt")
    assert final["epoch"] == expected["epoch"] == 8
    for name, value in expected["Phi"].items():
        assert torch.equal(final["Phi"][name], value), name
    assert not torch.equal(last["Phi"]["layers.0.weight"], expected["Phi"]["layers.0.weight"])
    assert _metrics(interrupted) == _metrics(reference)


# ---- zero-shot: FTI4CIR (fti4cir/run/train.py --checkpointing_steps / --resume_from_checkpoint latest) -------------
def _fti4cir_argv(root: Path, clip_dir: Path, out: Path, cache: Path) -> list[str]:
    # 300 ImageNet-style pairs / batch 64 = 4 steps per epoch; resume states at steps 3 and 6; LR x0.1 from epoch 1;
    # one augmented view, so the per-item view draws must resume too
    return ["--clip_model_name", "synthetic-tiny", "--clip_pretrained", str(clip_dir), "--data-root", str(root),
            "--feature_cache", str(cache), "--output-dir", str(out), "--device", "cpu", "--batch_size", "64",
            "--num_epochs", "2", "--lr_decay", "1", "--num_k", "8", "--topk", "4", "--tf_layer", "1", "--lr", "1e-3",
            "--augment_views", "1", "--checkpointing_steps", "3", "--seed", "3"]


@pytest.mark.slow
def test_fti4cir_resumes_exactly_after_kill(synthetic_root, tiny_clip_dir, tmp_path):
    from fti4cir.run.train import main

    cache = tmp_path / "cache"
    reference, interrupted = _uninterrupted_then_killed(
        main, "fti4cir/run/train.py", lambda out: _fti4cir_argv(synthetic_root, tiny_clip_dir, out, cache), tmp_path,
        kill_at=6)
    last = load_checkpoint(interrupted / "save_model" / "resume_latest.pt")
    assert (last["epoch"], last["step"]) == (0, 3)  # batch 3 of 4: the resumed run starts mid-epoch; 4 and 5 are redone

    main([*_fti4cir_argv(synthetic_root, tiny_clip_dir, interrupted, cache), "--resume_from_checkpoint", "latest"])
    for name in ("model_0.pt", "model_last.pt"):
        final = load_checkpoint(interrupted / "save_model" / name)
        expected = load_checkpoint(reference / "save_model" / name)
        assert final.keys() == expected.keys() and final["epoch"] == expected["epoch"]
        for key, value in expected["state_dict"].items():
            assert torch.equal(final["state_dict"][key], value), (name, key)
    assert any(not torch.equal(last["model"][k], v) for k, v in expected["state_dict"].items() if v.is_floating_point())
    assert _metrics(interrupted) == _metrics(reference)


def test_fti4cir_refuses_a_resume_file_of_another_run_shape(synthetic_root, tiny_clip_dir, tmp_path):
    from fti4cir.run.train import main

    argv = [*_fti4cir_argv(synthetic_root, tiny_clip_dir, tmp_path / "run", tmp_path / "cache"), "--num_epochs", "1",
            "--checkpointing_steps", "2"]
    main(argv)
    resume = tmp_path / "run" / "save_model" / "resume_latest.pt"
    assert load_checkpoint(resume)["step"] == 4
    with pytest.raises(CheckpointError, match=r"resume_latest\.pt: step: 4 is not in epoch 0 of 2 steps; resumed "
                                              r"with another batch size"):
        main([*argv, "--batch_size", "128", "--resume_from_checkpoint", "latest"])


@pytest.mark.slow
def test_fti4cir_two_processes_resume_at_an_epoch_end(synthetic_root, tiny_clip_dir, tmp_path):
    # 300 pairs / 32 = 9 steps per epoch over 2 processes: the state saved at step 9 (the end of epoch 0, written by
    # a 1-epoch run) continued for a second epoch equals a 2-epoch run: each process gets its own RNG state back
    def train(out: Path, *extra: str):
        argv = [*_fti4cir_argv(synthetic_root, tiny_clip_dir, out, tmp_path / "cache"), "--batch_size", "32",
                "--checkpointing_steps", "9", *extra]
        proc = run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "fti4cir/run/train.py",
                    *argv], timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    train(tmp_path / "uninterrupted")
    train(tmp_path / "interrupted", "--num_epochs", "1")
    resumed = train(tmp_path / "interrupted", "--resume_from_checkpoint", "latest")
    assert "at step 9" in resumed.stdout
    final = load_checkpoint(tmp_path / "interrupted" / "save_model" / "model_last.pt")["state_dict"]
    expected = load_checkpoint(tmp_path / "uninterrupted" / "save_model" / "model_last.pt")["state_dict"]
    for key, value in expected.items():
        assert torch.equal(final[key], value), key
    assert _metrics(tmp_path / "interrupted") == _metrics(tmp_path / "uninterrupted")


# ---- multi-turn: MAI (mai/run/train_ddp.py --checkpointing-steps / --resume-from-checkpoint latest) --------------------
def _mai_argv(root: Path, clip_dir: Path, out: Path, cache: Path) -> list[str]:
    # 16 fc training sessions / batch 4 = 4 steps per epoch; resume states at steps 3 and 6; 2 epochs
    return ["--dataset", "fc", "--num-epochs", "2", "--batch-size", "4", "--learning-rate", "1e-3",
            "--checkpointing-steps", "3", "--seed", "5", "--data-root", str(root), "--backbone", "synthetic-tiny",
            "--clip-pretrained", str(clip_dir), "--cache-dir", str(cache), "--output-dir", str(out), "--device", "cpu"]


@pytest.mark.slow
def test_mai_resumes_exactly_after_kill(tmp_path):
    from mai.run.train_ddp import main
    from tests.mai.conftest import write_tiny_clip, write_tiny_fashionmt

    root, clip_dir, cache = write_tiny_fashionmt(tmp_path / "mt"), write_tiny_clip(tmp_path / "clip"), tmp_path / "cache"
    reference, interrupted = _uninterrupted_then_killed(
        main, "mai/run/train_ddp.py", lambda out: _mai_argv(root, clip_dir, out, cache), tmp_path, kill_at=5)
    last = load_checkpoint(interrupted / "resume_latest.pt")
    assert last["step"] == 3  # epoch 0, batch 3 of 4: the resumed run starts mid-epoch; step 4 is redone
    assert not (interrupted / "last.pth").exists()

    main([*_mai_argv(root, clip_dir, interrupted, cache), "--resume-from-checkpoint", "latest"])
    final = load_checkpoint(interrupted / "last.pth")["state_dict"]
    expected = load_checkpoint(reference / "last.pth")["state_dict"]
    for name, value in expected.items():
        assert torch.equal(final[name], value), name
    assert any(not torch.equal(last["objective"][f"model.{k}"], v) for k, v in expected.items()
               if f"model.{k}" in last["objective"] and v.is_floating_point())
    assert _metrics(interrupted) == _metrics(reference)


# ---- supervised: FashionERN (fashionern/run/train_fiq.py --checkpointing-steps / --resume-from-checkpoint latest) ----
def _fashionern_argv(root: Path, clip_dir: Path, out: Path, cache: Path) -> list[str]:
    # 18 FashionIQ training triplets / batch 6 = 3 steps per epoch; resume states at steps 2, 4, 6; 2 epochs
    return ["--data-root", str(root), "--clip-model-name", "synthetic-tiny", "--clip-model-path", str(clip_dir),
            "--cache-dir", str(cache), "--device", "cpu", "--output-dir", str(out), "--num-epochs", "2",
            "--batch-size", "6", "--validation-frequency", "1", "--lr", "1e-3", "--checkpointing-steps", "2",
            "--no-tme", "--seed", "7"]


@pytest.mark.slow
def test_fashionern_resumes_exactly_after_kill(micro_root, clip_dir, tmp_path):
    from fashionern.run.train_fiq import main

    cache = tmp_path / "cache"
    reference, interrupted = _uninterrupted_then_killed(
        main, "fashionern/run/train_fiq.py", lambda out: _fashionern_argv(micro_root, clip_dir, out, cache), tmp_path,
        kill_at=4)
    last = load_checkpoint(interrupted / "resume_latest.pt")
    assert last["step"] == 2  # epoch 0, batch 2 of 3: the resumed run starts mid-epoch; step 3 is redone

    main([*_fashionern_argv(micro_root, clip_dir, interrupted, cache), "--resume-from-checkpoint", "latest"])
    final = load_checkpoint(interrupted / "resume_latest.pt")
    expected = load_checkpoint(reference / "resume_latest.pt")
    assert final["step"] == expected["step"] == 6
    for name, value in expected["model"].items():
        assert torch.equal(final["model"][name], value), name
    assert any(not torch.equal(last["model"][k], v) for k, v in expected["model"].items() if v.is_floating_point())
    assert _metrics(interrupted) == _metrics(reference)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fashionern", "spirit"])
def test_supervised_resume_from_an_epoch_end_still_validates_that_epoch(method, micro_root, clip_dir, tmp_path, capsys):
    # 3 steps per epoch and a resume state every 3: the state of step 3 is written at the end of epoch 0, before
    # its validation; the resumed run must validate epoch 0 (not jump to epoch 1) and end like an uninterrupted one
    if method == "fashionern":
        from fashionern.run.train_fiq import main
        script, validated = "fashionern/run/train_fiq.py", "[fashionern] epoch 0 validation"

        def argv(out):
            return [*_fashionern_argv(micro_root, clip_dir, out, tmp_path / "cache"), "--checkpointing-steps", "3"]
    else:
        from spirit.run.pipeline import train_main
        script, validated = "spirit/run/train_fiq.py", "epoch 0: "

        def main(args):
            return train_main("fashioniq", args)

        def argv(out):
            return [*_spirit_argv(micro_root, clip_dir, out, tmp_path / "cache"), "--checkpointing-steps", "3"]

    reference, interrupted = _uninterrupted_then_killed(main, script, argv, tmp_path, kill_at=4)
    assert load_checkpoint(interrupted / "resume_latest.pt")["step"] == 3
    capsys.readouterr()
    main([*argv(interrupted), "--resume-from-checkpoint", "latest"])
    assert validated in capsys.readouterr().out
    assert _metrics(interrupted) == _metrics(reference)


# ---- supervised: SPIRIT (spirit/run/train_fiq.py --checkpointing-steps / --resume-from-checkpoint latest) -----------
def _spirit_argv(root: Path, clip_dir: Path, out: Path, cache: Path) -> list[str]:
    # 18 FashionIQ training triplets / batch 6 = 3 steps per epoch; resume states at steps 2, 4, 6; 3 epochs
    return ["--data-root", str(root), "--clip-model-name", "synthetic-tiny", "--clip-model-path", str(clip_dir),
            "--cache-dir", str(cache), "--device", "cpu", "--output-dir", str(out), "--num-epochs", "3",
            "--batch-size", "6", "--validation-frequency", "1", "--combiner-lr", "1e-3", "--checkpointing-steps", "2",
            "--seed", "5"]


@pytest.mark.slow
def test_spirit_resumes_exactly_after_kill(micro_root, clip_dir, tmp_path):
    from spirit.run.pipeline import train_main

    def main(argv):
        return train_main("fashioniq", argv)

    cache = tmp_path / "cache"
    reference, interrupted = _uninterrupted_then_killed(
        main, "spirit/run/train_fiq.py", lambda out: _spirit_argv(micro_root, clip_dir, out, cache), tmp_path,
        kill_at=6)
    last = load_checkpoint(interrupted / "resume_latest.pt")
    assert last["step"] == 4  # epoch 1, batch 1 of 3: the resumed run starts mid-epoch; steps 5 and 6 are redone
    assert last["best_epoch"] == 0 and last["best_model"] is not None

    main([*_spirit_argv(micro_root, clip_dir, interrupted, cache), "--resume-from-checkpoint", "latest"])
    final = load_checkpoint(interrupted / "resume_latest.pt")
    expected = load_checkpoint(reference / "resume_latest.pt")
    assert final["step"] == expected["step"] == 9
    for name, value in expected["model"].items():
        assert torch.equal(final["model"][name], value), name
    assert any(not torch.equal(last["model"][k], v) for k, v in expected["model"].items() if v.is_floating_point())
    assert _metrics(interrupted) == _metrics(reference)
    assert (interrupted / "predictions.json").is_file()


def test_spirit_refuses_a_file_that_is_not_its_resume_state(micro_root, clip_dir, tmp_path):
    from common.checkpoint import save_atomic
    from spirit.run.pipeline import train_main

    foreign = tmp_path / "fashioniq-best.pt"
    save_atomic({"model": {}, "config": {}}, foreign)  # a model checkpoint, not a resume state
    with pytest.raises(ValueError, match=r"fashioniq-best\.pt: optimizer: missing; not a SPIRIT resume file"):
        train_main("fashioniq", [*_spirit_argv(micro_root, clip_dir, tmp_path / "run", tmp_path / "cache"),
                                 "--resume-from-checkpoint", str(foreign)])
    assert not (tmp_path / "run" / "metrics.json").exists()
