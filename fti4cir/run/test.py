"""Test-server files of a trained FTI4CIR: CIRR test1 (recall + recall_subset) and CIRCO test.

    python fti4cir/run/test.py --dataset cirr --CIRR_path /data/CIRR --model_path FTI4CIR_model.pth --save_path out
FashionIQ has no test server: `--dataset fashioniq` writes val metrics like evaluate.py, to --output-dir, else
--save_path, else outputs/fti4cir/test_fashioniq.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.data import CIRR, check_coverage
from common.data.circo import CIRCO
from common.dist import barrier, cleanup, init_distributed, is_main, resolve_device, seed_everything
from common.submission import validate_submission, write_circo_submission, write_cirr_submission
from common.tracking import RunTracker
from common.zeroshot import circo_rankings, cirr_rankings
from fti4cir.run import evaluate
from fti4cir.run.evaluate import DATASETS, add_eval_args, build_retriever, dataset_root


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_eval_args(parser)
    parser.add_argument("--save_path", default=None, help="where submission files go (default: output dir)")
    parser.add_argument("--submission_name", default="fti4cir")
    parser.add_argument("--output-dir", default=None, help="default outputs/fti4cir/test_<dataset>")
    args = parser.parse_args(argv)
    if args.dataset == "fashioniq":
        output_dir = args.output_dir or args.save_path or "outputs/fti4cir/test_fashioniq"
        evaluate.run(argparse.Namespace(**{**vars(args), "output_dir": output_dir, "protocol": None, "split": "val"}))
        return []
    info = init_distributed()
    seed_everything(args.seed)
    device = resolve_device(args.device, info)
    root = dataset_root(args)
    output_dir = Path(args.output_dir or f"outputs/fti4cir/test_{args.dataset}")
    save_path = Path(args.save_path or output_dir)
    written: list[Path] = []
    if is_main():
        protocol = {"cirr": "cirr.rc2", "circo": "circo.relcap"}[args.dataset]
        tracker = RunTracker(output_dir, "fti4cir", DATASETS[args.dataset][0], "test", protocol, vars(args))
        retriever = build_retriever(args, device, tracker.progress)
        if args.dataset == "cirr":
            reader = CIRR(root, "test1")
            coverage = check_coverage(reader, args.allow_partial)
            ranked, subset = cirr_rankings(retriever, reader)
            written = list(write_cirr_submission(save_path / "cirr", args.submission_name,
                                                 [t.pairid for t in reader.triplets], ranked, subset))
            checks = [("cirr", root / "cirr" / "captions" / "cap.rc2.test1.json"),
                      ("cirr_subset", root / "cirr" / "captions" / "cap.rc2.test1.json")]
        else:
            reader = CIRCO(root, "test")
            coverage = check_coverage(reader, args.allow_partial)
            ranked = circo_rankings(retriever, reader)
            written = [write_circo_submission(save_path / "circo" / f"{args.submission_name}.json",
                                              [q.query_id for q in reader.queries], ranked)]
            checks = [("circo", root / "annotations" / "test.json")]
        counts = {f"{kind}_queries": float(validate_submission(path, kind, annotations))
                  for path, (kind, annotations) in zip(written, checks)}
        tracker.write_metrics(counts, coverage)
        tracker.close()
        print("\n".join(str(p) for p in written))
    barrier()
    cleanup()
    return written


if __name__ == "__main__":
    main()
