"""Evaluate FashionERN on Shoes (val split): `python fashionern/run/test_shoes.py --fusion-model-path ... --output-dir ...`."""
from __future__ import annotations

from fashionern.run.options import test_parser
from fashionern.run.tester import run_test


def main(argv: list[str] | None = None) -> dict:
    return run_test("shoes", test_parser("shoes"), argv, split="val")


if __name__ == "__main__":
    main()
