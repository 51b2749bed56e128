"""Evaluate FashionERN on CIRR val (`cirr.rc2`), or write the test1 server files with `--split test1`."""
from __future__ import annotations

from fashionern.run.options import test_parser
from fashionern.run.tester import run_test


def main(argv: list[str] | None = None) -> dict:
    parser = test_parser("cirr")
    parser.add_argument("--split", choices=("val", "test1"), default="val")
    return run_test("cirr", parser, argv, split=parser.parse_known_args(argv)[0].split)


if __name__ == "__main__":
    main()
