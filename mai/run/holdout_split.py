"""Write a FashionMT folder whose test split is held out from the training sessions (choices without the test split)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from common.data.fashionmt import SUBSETS, FashionMT


def write_holdout(data_root: str | Path, out_root: str | Path, subsets: list[str], holdout: int) -> Path:
    """`<out_root>/FashionMT`: for each subset, train = the first sessions of the original train split, test = its
    last `holdout` sessions, gallery = every image of the original train split. Images and captions are linked."""
    src, dst = Path(data_root) / "FashionMT", Path(out_root) / "FashionMT"
    (dst / "modifiers").mkdir(parents=True, exist_ok=True)
    for name in ("images", "captions"):
        link = dst / name
        if not link.exists():
            os.symlink((src / name).resolve(), link)
    for file in (src / "modifiers").iterdir():
        shutil.copyfile(file, dst / "modifiers" / file.name)
    for subset in subsets:
        reader = FashionMT(src, "train", subset=subset)
        records = json.loads(reader.session_file.read_text(encoding="utf-8"))
        if not 0 < holdout < len(records):
            raise ValueError(f"{reader.session_file}: --holdout {holdout} must be in [1, {len(records) - 1}]")
        prefix = SUBSETS[subset]
        eval_part = "val" if subset == "fiq" else "test"
        (dst / "modifiers" / f"{prefix}_train_cap.json").write_text(json.dumps(records[:-holdout]))
        (dst / "modifiers" / f"{prefix}_{eval_part}_cap.json").write_text(json.dumps(records[-holdout:]))
        gallery = list(dict.fromkeys(n for s in reader.queries for n in s.images))
        if subset == "fiq":  # the index file names Fiq images by bare ASIN
            gallery = [Path(n).stem for n in gallery]
        (dst / "modifiers" / f"{prefix}_index_names.txt").write_text("\n".join(gallery) + "\n")
    return Path(out_root)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-root", default="datasets/synthetic")
    p.add_argument("--output-root", required=True, help="new data root (use it as --data-root of train.sh)")
    p.add_argument("--subsets", nargs="+", default=["fc", "200k"], choices=sorted(SUBSETS))
    p.add_argument("--holdout", type=int, default=20, help="training sessions moved to the test split, per subset")
    args = p.parse_args(argv)
    print(write_holdout(args.data_root, args.output_root, args.subsets, args.holdout))


if __name__ == "__main__":
    main()
