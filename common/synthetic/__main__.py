"""CLI: python -m common.synthetic --out datasets/synthetic --seed 0 --size small"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common.synthetic.generate import SIZES, generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic benchmark in every real on-disk format.")
    parser.add_argument("--out", type=Path, default=Path("datasets/synthetic"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    args = parser.parse_args(argv)
    start = time.time()
    out = generate(args.out, args.seed, args.size)
    print(f"wrote {out} in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
