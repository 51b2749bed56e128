"""Benchmark 6 (opt-in, minutes): wall time and peak memory of the whole `make demo` (`python -m demo.run`)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import Figure

GOAL_MIN = 15.0
REPO = Path(__file__).resolve().parent.parent


def figures(extra_args: list[str] | None = None) -> list[Figure]:
    """Run the demo under `/usr/bin/time -v`; its maximum resident set size is the largest single process's."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "demo.run", *(extra_args or [])]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    minutes = (time.perf_counter() - start) / 60
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    peak_gb = int(match.group(1)) / 1e6 if match else float("nan")
    note = "" if done.returncode == 0 else f"demo exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    return [Figure("make demo wall time", minutes, GOAL_MIN, unit=" min",
                   details={"peak_rss_gb_largest_process": peak_gb}, note=note)]
