"""Evaluate FashionERN on FashionIQ val under `fiq.original` and/or `fiq.val_union` (one metrics.json per protocol)."""
from __future__ import annotations

from fashionern.run.options import test_parser
from fashionern.run.tester import run_test

PROTOCOLS = ("fiq.original", "fiq.val_union")


def main(argv: list[str] | None = None) -> dict:
    parser = test_parser("fashioniq")
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "all"), default="all")
    protocol = parser.parse_known_args(argv)[0].protocol
    return run_test("fashioniq", parser, argv, PROTOCOLS if protocol == "all" else (protocol,))


if __name__ == "__main__":
    main()
