"""FashionERN's "VAL setting" on FashionIQ (protocol `fiq.val_union`; the original's run/test/test_val.py)."""
from __future__ import annotations

import sys

from fashionern.run.test_fiq import main as test_fiq


def main(argv: list[str] | None = None) -> dict:
    return test_fiq([*(sys.argv[1:] if argv is None else argv), "--protocol", "fiq.val_union"])


if __name__ == "__main__":
    main()
