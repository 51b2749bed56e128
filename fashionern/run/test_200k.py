"""Evaluate FashionERN on Fashion200k (test split): `python fashionern/run/test_200k.py --fusion-model-path ... --output-dir ...`."""
from __future__ import annotations

from fashionern.run.options import test_parser
from fashionern.run.tester import run_test


def main(argv: list[str] | None = None) -> dict:
    return run_test("fashion200k", test_parser("fashion200k"), argv, split="test")


if __name__ == "__main__":
    main()
