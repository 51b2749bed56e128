"""Write the CIRR (test1) and CIRCO (test) server files of a trained Phi, then check them with the validator."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from common.clip import load_clip
from common.submission import validate_submission, write_circo_submission, write_cirr_submission
from common.data import CIRCO, CIRR
from common.zeroshot import circo_rankings, cirr_rankings
from lincir.models.phi import build_phi, load_phi
from lincir.utils import PhiQueryEncoder

DATASET_FOLDERS = {"cirr": "cirr_dataset", "circo": "CIRCO"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--submission-name", required=True)
    p.add_argument("--exp-name", default="lincir")
    p.add_argument("--dataset", required=True, choices=sorted(DATASET_FOLDERS))
    p.add_argument("--dataset-path", default=None, help="the benchmark folder (default <data-root>/<its folder>)")
    p.add_argument("--eval-type", default="phi", choices=["phi"])
    p.add_argument("--preprocess-type", default="clip", choices=["clip", "targetpad"])
    p.add_argument("--phi-checkpoint-name", required=True)
    p.add_argument("--clip_model_name", default="giga")
    p.add_argument("--clip_pretrained", default=None)
    p.add_argument("--cache_dir", default=None, help="HF cache for large/huge/giga")
    p.add_argument("--l2_normalize", action="store_true")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--output-dir", default="submission", help="files go to <output-dir>/{cirr,circo}/")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse_args(argv)
    root = Path(args.dataset_path or Path(args.data_root) / DATASET_FOLDERS[args.dataset])
    clip = load_clip(args.clip_model_name, pretrained=args.clip_pretrained, device=args.device,
                     cache_dir=args.cache_dir).eval()
    phi = build_phi(clip.embed_dim, clip.text_width).to(args.device)
    load_phi(args.phi_checkpoint_name, phi)
    enc = PhiQueryEncoder(clip, phi.eval(), args.l2_normalize, args.preprocess_type,
                          cache_dir=Path(args.output_dir) / "feature_cache")
    out = Path(args.output_dir) / args.dataset
    if args.dataset == "cirr":
        reader = CIRR(root, "test1")
        ranked, subset_ranked = cirr_rankings(enc, reader)
        recall, subset = write_cirr_submission(out, args.submission_name, [q.pairid for q in reader.queries],
                                               ranked, subset_ranked)
        annotations = root / "cirr" / "captions" / "cap.rc2.test1.json"
        validate_submission(recall, "cirr", annotations)
        validate_submission(subset, "cirr_subset", annotations)
        paths = [recall, subset]
    else:
        reader = CIRCO(root, "test")
        path = write_circo_submission(out / f"{args.submission_name}.json", [q.query_id for q in reader.queries],
                                      circo_rankings(enc, reader))
        validate_submission(path, "circo", root / "annotations" / "test.json")
        paths = [path]
    for p in paths:
        print(f"wrote {p} (validated)")
    return paths


if __name__ == "__main__":
    main(sys.argv[1:])
