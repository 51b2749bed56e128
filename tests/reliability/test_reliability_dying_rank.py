"""A 2-process torchrun DDP job where rank 1 crashes or freezes: rank 0 exits instead of hanging, the job fails.

A crash (the process is gone) breaks rank 0's gloo connection at once; a freeze (the process is alive but never
reaches the next all-reduce, as with a stuck data loader or a lost node) is only detected by the collective timeout,
which `common.dist.init_distributed` takes from `$CIR_DIST_TIMEOUT`.
"""
from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.reliability.reliability_helpers import PYTHON, REPO, subprocess_env

WORKER = """
import os, sys, time
import torch
from common.dist import cleanup, init_distributed, wrap_ddp

failure = sys.argv[1]
info = init_distributed()
torch.manual_seed(0)
model = wrap_ddp(torch.nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(200):
    if info.rank == 1 and step == 3:
        print(f"rank 1: {failure} at step {step}", flush=True)
        if failure == "crash":
            os._exit(3)
        time.sleep(3600)
    loss = model(torch.randn(8, 4)).pow(2).mean()
    optimizer.zero_grad()
    start = time.monotonic()
    try:
        loss.backward()  # DDP all-reduces the gradients here
    except Exception as err:
        print(f"rank {info.rank}: gave up after {time.monotonic() - start:.1f} s: {str(err).splitlines()[0]}", flush=True)
        raise
    optimizer.step()
    print(f"rank {info.rank}: step {step} done", flush=True)
cleanup()
print(f"rank {info.rank}: finished", flush=True)
"""
TIMEOUT_S = 20


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["crash", "freeze"])
def test_other_rank_exits_within_the_timeout_and_the_job_fails(failure, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    start = time.monotonic()
    proc = subprocess.run([PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "--monitor-interval=0.5", str(script), failure], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=subprocess_env(CIR_DIST_TIMEOUT=str(TIMEOUT_S)))
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert f"rank 1: {failure} at step 3" in output
    assert "rank 0: step 2 done" in output and "rank 0: finished" not in output
    assert proc.returncode != 0, output[-3000:]
    if failure == "freeze":  # rank 0 gave up on its own after the configured timeout, with an error saying so
        gave_up = re.search(r"rank 0: gave up after ([0-9.]+) s: (.*)", output)
        assert gave_up, output[-3000:]
        assert TIMEOUT_S - 1 <= float(gave_up.group(1)) <= TIMEOUT_S + 60
        assert "timed out" in gave_up.group(2).lower() or "timeout" in gave_up.group(2).lower()
    # a hang would run into subprocess.run's 600 s; startup of 3 python processes dominates the rest
    assert elapsed < TIMEOUT_S + 240, f"job took {elapsed:.0f}s"
