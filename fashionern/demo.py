"""FashionERN's part of the demo: train and evaluate seed 0 with TME on the embedded default's FashionIQ."""
from __future__ import annotations

import sys

DEMO_SCHEDULE = ["--seed", "0", "--num-epochs", "2", "--batch-size", "32", "--lr", "2e-4", "--validation-frequency", "1"]


def commands(data_root: str, out_root: str) -> list[list[str]]:
    """The README's schedule with --tme (--no-tme would pass the time budget); the test writes both FIQ protocols."""
    run = f"{out_root}/fashioniq-tme"
    flags = ["--data-root", data_root, "--clip-model-name", "synthetic-tiny"]
    return [
        [sys.executable, "fashionern/run/train_fiq.py", *flags, "--tme", *DEMO_SCHEDULE, "--output-dir", f"{run}/train"],
        [sys.executable, "fashionern/run/test_fiq.py", *flags,
         "--fusion-model-path", f"{run}/train/fashioniq-best.pth", "--output-dir", f"{run}/test"],
    ]
