"""Zero-shot validation of a trained FTI4CIR on FashionIQ, CIRR or CIRCO (val splits).

    python fti4cir/run/evaluate.py --dataset cirr --CIRR_path /data/CIRR --model_path FTI4CIR_model.pth
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.data import CIRR, FashionIQ
from common.data.circo import CIRCO
from common.dist import barrier, cleanup, init_distributed, is_main, resolve_device, seed_everything
from common.tracking import RunTracker
from common.viewer import save_predictions
from common.zeroshot import FIQ_CATEGORIES, evaluate_circo, evaluate_cirr, evaluate_fashioniq
from fti4cir.evaluation import Retriever
from fti4cir.models.convert import load_fti4cir
from fti4cir.run.cli import add_backbone_args, feature_cache, frozen_backbone

DATASETS = {"fashioniq": ("fashion-iq", "Fashion_IQ_path"), "cirr": ("cirr_dataset", "CIRR_path"),
            "circo": ("CIRCO", "CIRCO_path")}


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    add_backbone_args(parser)
    parser.add_argument("--dataset", choices=list(DATASETS), default="fashioniq")
    parser.add_argument("--Fashion_IQ_path", default=None, help="default <data-root>/fashion-iq")
    parser.add_argument("--CIRR_path", default=None, help="default <data-root>/cirr_dataset")
    parser.add_argument("--CIRCO_path", default=None, help="default <data-root>/CIRCO")
    parser.add_argument("--model_path", default="./save_model/FTI4CIR_model.pth",
                        help="our checkpoint, a state dict, or the authors' pickled FTI4CIR_model.pth")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--allow_partial", action="store_true", help="evaluate although images are missing")


def dataset_root(args: argparse.Namespace) -> Path:
    folder, flag = DATASETS[args.dataset]
    return Path(getattr(args, flag) or Path(args.data_root) / folder)


def build_retriever(args: argparse.Namespace, device, progress=None) -> Retriever:
    backbone, transform, transform_id = frozen_backbone(args, device)
    model = load_fti4cir(args.model_path, expected={"patch_dim": backbone.vision_width,
                                                    "embed_dim": backbone.embed_dim,
                                                    "token_dim": backbone.text_width}).to(device).eval()
    return Retriever(backbone, model, transform, transform_id, feature_cache(args), args.batch_size, progress)


def main(argv: list[str] | None = None) -> dict[str, float]:
    return run(parse_args(argv))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_eval_args(parser)
    parser.add_argument("--save_path", default=None, help="unused, kept for the original's CLI")
    parser.add_argument("--protocol", default=None, help="fiq.original (default) or fiq.val_union for FashionIQ")
    parser.add_argument("--output-dir", default=None, help="default outputs/fti4cir/eval_<dataset>")
    parser.add_argument("--split", default="val", choices=["val", "train"],
                        help="val: the reported split; train (CIRR only): the development split for choosing a schedule")
    args = parser.parse_args(argv)
    if args.split == "train" and args.dataset != "cirr":
        parser.error(f"--split train: only CIRR has a labelled split besides val here, not {args.dataset}")
    return args


def run(args: argparse.Namespace) -> dict[str, float]:
    """Metrics (and predictions) of one benchmark's val split (or CIRR train), written to the output dir."""
    info = init_distributed()
    seed_everything(args.seed)
    device = resolve_device(args.device, info)
    root = dataset_root(args)
    protocol = args.protocol or {"fashioniq": "fiq.original", "cirr": "cirr.rc2", "circo": "circo.relcap"}[args.dataset]
    output_dir = Path(args.output_dir or f"outputs/fti4cir/eval_{args.dataset}")
    metrics: dict[str, float] = {}
    if is_main():  # ranking is cheap next to feature extraction; one process does it, the others wait
        tracker = RunTracker(output_dir, "fti4cir", DATASETS[args.dataset][0], args.split, protocol, vars(args))
        retriever = build_retriever(args, device, tracker.progress)
        if args.dataset == "fashioniq":
            reader = FashionIQ(root, "val", FIQ_CATEGORIES)
            metrics, predictions, coverage = evaluate_fashioniq(retriever, root, FIQ_CATEGORIES, protocol,
                                                                allow_partial=args.allow_partial)
        elif args.dataset == "cirr":  # --split train: the development split (FTI4CIR never trains on CIR data)
            reader = CIRR(root, args.split)
            metrics, predictions, coverage = evaluate_cirr(retriever, root, allow_partial=args.allow_partial,
                                                           split=args.split)
        else:
            reader = CIRCO(root, "val")
            metrics, predictions, coverage = evaluate_circo(retriever, root, allow_partial=args.allow_partial)
        used = {i for q in predictions for i in [q["reference"], *q["targets"], *q["ranked"]]}
        save_predictions(output_dir, protocol, predictions, {i: reader.image_path(i) for i in used})
        tracker.write_metrics(metrics, coverage)
        tracker.close()
        print(" ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
    barrier()
    cleanup()
    return metrics


if __name__ == "__main__":
    main()
