"""MAI's part of the demo: `sh mai/train.sh` then `sh mai/validate.sh` on the embedded default's FashionMT."""
from __future__ import annotations

import sys

DEMO_DATASETS = ("fc", "200k")


def commands(data_root: str, out_root: str) -> list[list[str]]:
    """The user's own entry points with train.sh's defaults (1 process, 30 epochs, Q-Former from the synthetic
    stage 1), combination then rollback."""
    env = ["env", f"DATA_ROOT={data_root}", f"OUT={out_root}", f"DATASETS={' '.join(DEMO_DATASETS)}",
           f"PYTHON={sys.executable}"]
    return [[*env, "sh", "mai/train.sh"], [*env, "sh", "mai/validate.sh"]]
