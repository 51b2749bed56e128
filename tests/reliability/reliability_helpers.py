"""Helpers of the reliability tests: micro FashionIQ/CIRR/corpus writers and subprocess checks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image


REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "black": (10, 10, 10)}
CATEGORIES = ("dress", "shirt", "toptee")


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def write_image(path: Path, color: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 50), COLORS[color]).save(path)
    return path


def write_micro_fiq(root: Path) -> Path:
    """FashionIQ in its on-disk format: 6 images and 6 triplets per category for train and val."""
    palette = list(COLORS)
    for cat in CATEGORIES:
        for split in ("train", "val"):
            names = [(f"{cat}{split}{i}", palette[i % len(palette)]) for i in range(6)]
            for name, color in names:
                write_image(root / "images" / f"{name}.png", color)
            triplets = [{"candidate": a, "target": b, "captions": [f"is {cb}", f"make it {cb}."]}
                        for (a, _), (b, cb) in zip(names, names[1:] + names[:1])]
            write_json(root / "captions" / f"cap.{cat}.{split}.json", triplets)
            write_json(root / "image_splits" / f"split.{cat}.{split}.json", [n for n, _ in names])
    return root


def write_micro_cirr(root: Path) -> Path:
    """CIRR in its on-disk format: one 6-image group per split (train, val, test1)."""
    palette = list(COLORS)
    for split, folder in (("train", "train/0"), ("val", "dev"), ("test1", "test1")):
        names = [(f"{split}-{i}-img0", palette[i % len(palette)]) for i in range(6)]
        for name, color in names:
            write_image(root / folder / f"{name}.png", color)
        members = [n for n, _ in names]
        entries = []
        for i, ((ref, _), (tgt, color)) in enumerate(zip(names, names[1:] + names[:1])):
            entry = {"pairid": i, "reference": ref, "caption": f"make it {color}",
                     "img_set": {"id": 0, "members": members, "reference_rank": i}}
            if split != "test1":
                entry.update(target_hard=tgt, target_soft={tgt: 1.0},
                             img_set={**entry["img_set"], "target_rank": (i + 1) % 6})
            entries.append(entry)
        write_json(root / "cirr" / "captions" / f"cap.rc2.{split}.json", entries)
        write_json(root / "cirr" / "image_splits" / f"split.rc2.{split}.json",
                   {n: f"./{folder}/{n}.png" for n in members})
    return root


def write_micro_corpus(root: Path, n: int = 48) -> Path:
    colors, items = list(COLORS), ["dress", "shirt", "shoe", "hat", "bag", "coat"]
    lines = [f"a {colors[i % 4]} {items[i % 6]} with {colors[(i // 4) % 4]} stripes on a table" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "captions.txt").write_text("\n".join(lines) + "\n")
    return root


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test's environment, single-threaded (2 shared cores), with the repo importable."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(extra)
    return env


def run(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Run `python args...` from the repo root and capture its output."""
    return subprocess.run([PYTHON, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(**env))


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The error a failed command ends with: the last non-empty stderr line (the exception line of a traceback)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, f"exit {proc.returncode} without any message on stderr; stdout: {proc.stdout[-500:]}"
    return lines[-1]


def assert_fails_naming(proc: subprocess.CompletedProcess, file: str | Path, *fields: str) -> str:
    """A non-zero exit whose final one-line error names `file` and then each of `fields`."""
    assert proc.returncode != 0, f"expected a failure, got exit 0; stdout: {proc.stdout[-500:]}"
    line = error_line(proc)
    name = str(file)
    assert name in line, f"{name!r} not in the error line {line!r}"
    for field in fields:
        assert field in line, f"{field!r} not in the error line {line!r}"
        assert line.index(name) <= line.index(field) or field in name, line
    return line


def files_under(folder: Path) -> list[str]:
    """Every file (not folder) under `folder`, relative, sorted; [] if it does not exist."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# Runs a training script as __main__ and SIGKILLs its own process right before optimizer step `kill_at`
# (counted over every optimizer, 1-based): an uncatchable kill -9 in the middle of a run, after the last
# checkpoint and before the next one, at a step chosen by the test instead of by timing luck.
KILL_LAUNCHER = """
import os, runpy, signal, sys
from torch.optim.optimizer import register_optimizer_step_pre_hook

kill_at, script, steps = int(sys.argv[1]), sys.argv[2], [0]

def count_then_die(optimizer, args, kwargs):
    steps[0] += 1
    if steps[0] == kill_at:
        print(f"killing at optimizer step {kill_at}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

register_optimizer_step_pre_hook(count_then_die)
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


def run_killed_at_step(script: str, argv: list[str], kill_at: int, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python script argv...` and kill -9 it right before its `kill_at`-th optimizer step."""
    return run(["-c", KILL_LAUNCHER, str(kill_at), script, *argv], timeout=timeout)
