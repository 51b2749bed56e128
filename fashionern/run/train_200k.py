"""Train FashionERN on Fashion200k: `python fashionern/run/train_200k.py --data-root ... --output-dir ...` (or under torchrun)."""
from __future__ import annotations

from fashionern.run.options import train_parser
from fashionern.run.trainer import train


def main(argv: list[str] | None = None) -> dict:
    return train("fashion200k", argv, train_parser("fashion200k"))


if __name__ == "__main__":
    main()
