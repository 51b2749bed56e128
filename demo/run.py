"""The main job: build the embedded default, run the baselines and every method, write the leaderboard."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from demo.leaderboard import render_markdown, write_leaderboard

REPO = Path(__file__).resolve().parent.parent
METHODS = ["fashionern", "spirit", "mai", "fti4cir", "lincir"]
# CPU seconds of each pipeline (measured 2026-11-25): only the scheduling order (longest first) uses them.
EXPECTED_SECONDS = {"mai": 280, "fti4cir": 200, "lincir": 150, "fashionern": 105, "spirit": 90, "baselines": 15}


_PRINT = threading.Lock()  # methods run side by side: one whole line at a time


def _stage(msg: str, t0: float) -> None:
    with _PRINT:
        print(f"[demo {time.time() - t0:6.0f}s] {msg}", flush=True)


def _run(argv: list[str], log_path: Path, out_root: Path) -> tuple[bool, float]:
    """Run one command from the repo root, log its output, and record it in `<out_root>/commands.json`
    as the producer of every metrics.json it wrote below `out_root` (the method's own folder)."""
    start = time.time()
    out_root.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime for p in out_root.rglob("metrics.json")}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # One thread per process: faster for tiny models than oversubscribed pairs, and CPU float reductions
    # depend on the thread count, so this also makes every number reproducible on another machine.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log_path, "a") as log:
        log.write(f"$ {shlex.join(argv)}\n")
        log.flush()
        proc = subprocess.run(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    record = out_root / "commands.json"
    commands = json.loads(record.read_text()) if record.exists() else {}
    for p in out_root.rglob("metrics.json"):
        if before.get(p) != p.stat().st_mtime:
            commands[str(p.resolve())] = _display(argv)
    record.write_text(json.dumps(commands, indent=1, sort_keys=True))
    return proc.returncode == 0, time.time() - start


def _display(argv: list[str]) -> str:
    """The command as a user would type it from the repository root."""
    return shlex.join(argv).replace(sys.executable, "python").replace(f"{REPO}/", "")


def _tail(path: Path, n: int = 6) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join("      " + line for line in lines[-n:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-root", default=str(REPO / "datasets" / "synthetic"))
    ap.add_argument("--output-dir", default=str(REPO / "outputs"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--jobs", type=int, default=2,
                    help="methods run at the same time (each method's own commands stay in order)")
    args = ap.parse_args(argv)
    t0 = time.time()
    out = Path(args.output_dir)
    runs_root = out / "runs"
    logs = out / "logs"
    runs_root.mkdir(parents=True, exist_ok=True)

    _stage(f"synthetic benchmark -> {args.data_root}", t0)
    from common.synthetic import ensure_synthetic
    ensure_synthetic(args.data_root, seed=args.seed, size="small")
    _stage("tiny CLIP (synthetic-tiny)", t0)
    from common.synthetic.tiny_clip import ensure_tiny_clip
    _stage(f"tiny CLIP ready at {ensure_tiny_clip(seed=args.seed)}", t0)

    failures: list[str] = []
    steps: list[tuple[str, list[str]]] = []
    if not args.skip_baselines:
        steps.append(("baselines", [sys.executable, "-m", "common.baselines", "--data-root", args.data_root,
                                    "--backbone", "synthetic-tiny", "--output-dir", str(runs_root / "baselines")]))
    for method in args.methods:
        try:
            mod = importlib.import_module(f"{method}.demo")
        except ModuleNotFoundError as e:
            _stage(f"{method}: no demo ({e}); skipped", t0)
            failures.append(f"{method}: no demo module")
            continue
        for i, cmd in enumerate(mod.commands(args.data_root, str(runs_root / method))):
            steps.append((f"{method} [{i + 1}]", [str(c) for c in cmd]))

    pipelines: dict[str, list[tuple[str, list[str]]]] = {}
    for name, cmd in steps:
        pipelines.setdefault(name.split()[0], []).append((name, cmd))

    def run_pipeline(method: str) -> None:
        """One method's commands in order; the first failure skips the rest of that method only."""
        for k, (name, cmd) in enumerate(pipelines[method]):
            _stage(f"{name}: {shlex.join(cmd)}", t0)
            ok, secs = _run(cmd, logs / f"{method}.log", runs_root / method)
            if ok:
                _stage(f"{name}: done in {secs:.0f}s", t0)
                continue
            failures.append(f"{name} (log: {logs / f'{method}.log'})")
            _stage(f"{name}: FAILED after {secs:.0f}s; last lines:\n{_tail(logs / f'{method}.log')}", t0)
            for skipped, _ in pipelines[method][k + 1:]:
                _stage(f"{skipped}: skipped (an earlier step of {method} failed)", t0)
            return

    # Longest pipelines first, `--jobs` at a time: each process is single-threaded, so two share 2 cores well.
    order = sorted(pipelines, key=lambda m: EXPECTED_SECONDS.get(m, 0), reverse=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(run_pipeline, order))

    _stage("leaderboard, plots and retrieval viewers", t0)
    md, js, tables = write_leaderboard(runs_root, out)
    from demo.pictures import draw_everything
    pictures = draw_everything(runs_root, out, tables)
    print()
    print(render_markdown(tables))
    print(f"leaderboard: {md} and {js}")
    for p in pictures:
        print(f"picture: {p}")
    (out / "demo_summary.json").write_text(json.dumps(
        {"seconds": round(time.time() - t0, 1), "failures": failures, "pictures": [str(p) for p in pictures]},
        indent=1))
    _stage(f"finished; {len(failures)} failure(s)" + ("".join(f"\n  - {f}" for f in failures)), t0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
