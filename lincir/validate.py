"""Evaluate a trained Phi zero-shot on FashionIQ, CIRR, CIRCO (val) or the four GeneCIS tasks; writes metrics.json."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from common.clip import load_clip
from common.data import CIRCO, CIRR, FashionIQ
from common.data.genecis import GeneCIS
from common.tracking import RunTracker
from common.viewer import save_predictions
from common.zeroshot import GENECIS_TASKS, evaluate
from lincir.models.phi import build_phi, load_phi
from lincir.utils import PROTOCOLS, PhiQueryEncoder, image_paths_of

DATASET_FOLDERS = {"cirr": "cirr_dataset", "fashioniq": "fashion-iq", "circo": "CIRCO", "genecis": "genecis"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--exp-name", default="lincir")
    p.add_argument("--eval-type", default="phi", choices=["phi"],
                   help="the original's oti/searle/pic2word types belong to other repositories; only phi is LinCIR")
    p.add_argument("--dataset", required=True, choices=sorted(DATASET_FOLDERS))
    p.add_argument("--dataset-path", default=None, help="the benchmark folder (default <data-root>/<its folder>)")
    p.add_argument("--preprocess-type", default="clip", choices=["clip", "targetpad"])
    p.add_argument("--phi-checkpoint-name", required=True, help="a {'Phi': ...} checkpoint, e.g. phi_best.pt")
    p.add_argument("--clip_model_name", default="giga")
    p.add_argument("--clip_pretrained", default=None, help="local weights file/folder of the backbone")
    p.add_argument("--cache_dir", default=None, help="HF cache for large/huge/giga")
    p.add_argument("--l2_normalize", action="store_true")
    p.add_argument("--genecis-tasks", nargs="*", default=list(GENECIS_TASKS), choices=GENECIS_TASKS)
    p.add_argument("--allow-partial", action="store_true",
                   help="evaluate even when images are missing (queries touching them are dropped; recorded)")
    p.add_argument("--data-root", default="datasets")
    p.add_argument("--output-dir", default=None, help="default outputs/lincir/<exp-name>/<dataset>")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    args = parse_args(argv)
    root = Path(args.dataset_path or Path(args.data_root) / DATASET_FOLDERS[args.dataset])
    out = Path(args.output_dir or Path("outputs/lincir") / args.exp_name / args.dataset)
    clip = load_clip(args.clip_model_name, pretrained=args.clip_pretrained, device=args.device,
                     cache_dir=args.cache_dir).eval()
    phi = build_phi(clip.embed_dim, clip.text_width).to(args.device)
    load_phi(args.phi_checkpoint_name, phi)
    enc = PhiQueryEncoder(clip, phi.eval(), args.l2_normalize, args.preprocess_type, cache_dir=out / "feature_cache")
    if args.dataset == "genecis":
        runs = [(f"genecis.{t}", out / t, t, GeneCIS(root, t)) for t in args.genecis_tasks]
    else:
        reader = {"cirr": lambda: CIRR(root, "val"), "fashioniq": lambda: FashionIQ(root, "val"),
                  "circo": lambda: CIRCO(root, "val")}[args.dataset]()
        runs = [(PROTOCOLS[args.dataset], out, None, reader)]
    results = {}
    for protocol, run_dir, task, reader in runs:
        metrics, rows, coverage = evaluate(enc, args.dataset, root, task, allow_partial=args.allow_partial)
        with RunTracker(run_dir, method="lincir", dataset=args.dataset, split="val", protocol=protocol,
                        config=vars(args)) as tracker:
            tracker.write_metrics(metrics, coverage=coverage)
        save_predictions(run_dir, protocol, rows, image_paths_of(reader, rows))
        print(f"{protocol}: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
        results[protocol] = metrics
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
