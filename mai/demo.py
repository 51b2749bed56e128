"""MAI's part of the demo: train and evaluate on the embedded default's FashionMT (combination and rollback)."""
from __future__ import annotations

import sys

DEMO_DATASETS = ("fc", "200k")


def commands(data_root: str, out_root: str) -> list[list[str]]:
    """Short-schedule train (2 processes) + final-turn evaluation per subset; each test writes metrics.json."""
    argv: list[list[str]] = []
    for dataset in DEMO_DATASETS:
        run = f"{out_root}/mai/{dataset}"
        argv.append([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                     "mai/run/train_ddp.py", "--dataset", dataset, "--data-root", data_root,
                     "--backbone", "synthetic-tiny", "--num-epochs", "20", "--learning-rate", "2e-3",
                     "--batch-size", "8", "--validation-frequency", "20", "--output-dir", f"{run}/train"])
        argv.append([sys.executable, "mai/run/test.py", "--dataset", dataset, "--data-root", data_root,
                     "--model-dir", f"{run}/train", "--output-dir", f"{run}/test"])
    return argv
