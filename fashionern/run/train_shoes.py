"""Train FashionERN on Shoes: `python fashionern/run/train_shoes.py --data-root ... --output-dir ...` (or under torchrun)."""
from __future__ import annotations

from fashionern.run.options import train_parser
from fashionern.run.trainer import train


def main(argv: list[str] | None = None) -> dict:
    return train("shoes", argv, train_parser("shoes"))


if __name__ == "__main__":
    main()
