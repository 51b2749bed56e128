"""FashionERN's part of the demo: train (2 processes, TME on) and evaluate on the embedded default's FashionIQ."""
from __future__ import annotations

import sys

DEMO_EPOCHS = "2"


def commands(data_root: str, out_root: str) -> list[list[str]]:
    """Short-schedule training + evaluation under both FashionIQ protocols; the test writes metrics.json."""
    run = f"{out_root}/fashionern/fashioniq"
    flags = ["--data-root", data_root, "--clip-model-name", "synthetic-tiny"]
    return [
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "fashionern/run/train_fiq.py", *flags, "--num-epochs", DEMO_EPOCHS, "--batch-size", "64", "--lr", "2e-4",
         "--validation-frequency", DEMO_EPOCHS, "--output-dir", f"{run}/train"],
        [sys.executable, "fashionern/run/test_fiq.py", *flags,
         "--fusion-model-path", f"{run}/train/fashioniq-best.pth", "--output-dir", f"{run}/test"],
    ]
