"""The body of SPIRIT's entry points: frozen CLIP, benchmark records, cached features, then train or test."""
from argparse import Namespace
from pathlib import Path

import torch

from common.clip4cir import carried_clip_file
from common.data.base import BenchmarkReader
from common.dist import DistInfo, barrier, cleanup, init_distributed, rank0_print, resolve_device, seed_everything
from common.submission import write_cirr_submission
from common.tracking import RunTracker
from common.viewer import save_predictions
from spirit.dataloader.benchmarks import load_eval_sets, load_train_set
from spirit.dataloader.image_features import ImageFeatures, extract_image_features, merge_features
from spirit.dataloader.partial import present_eval_sets, present_train_set
from spirit.dataloader.records import EvalSet
from spirit.dataloader.text_features import TextFeatureCache
from spirit.models import SPIRIT
from spirit.models.checkpoint import load_spirit
from spirit.run.evaluator import Rankings, metrics_for, prediction_rows, rank
from spirit.run.options import DATASETS, test_parser, train_parser
from spirit.run.trainer import train

NUM_PATCHES = 13


def load_frozen_clip(args: Namespace, device: torch.device) -> torch.nn.Module:
    """The (stage-1 fine-tuned) CLIP through common.clip, frozen, after checking the flags that must agree with it."""
    from common.clip import load_clip

    backbone = load_clip(args.clip_model_name, backend=args.clip_backend, pretrained=args.clip_model_path, device=device)
    backbone.eval().requires_grad_(False)
    for flag, given, actual in (("--feature-dim", args.feature_dim, backbone.embed_dim),
                                ("--input-dim", args.input_dim, backbone.image_size)):
        if given is not None and given != actual:
            raise ValueError(f"{flag} {given} does not match {args.clip_model_name} ({actual})")
    if args.transform != "targetpad" or args.target_ratio != 1.25:
        raise ValueError("--transform/--target-ratio: the cached features (common.clip4cir) use targetpad 1.25, "
                         "as every released SPIRIT model")
    return backbone


def cached_features(backbone: torch.nn.Module, parts: list[tuple[list[str], BenchmarkReader]], args: Namespace,
                    info: DistInfo, device: torch.device) -> ImageFeatures:
    """Extract (rank 0 first, then the others read its cache) and merge the features of each (names, reader) part."""
    if not info.is_main:
        barrier()
    banks = [extract_image_features(backbone, names, reader.image_path, args.cache_dir, args.clip_bs, device)
             for names, reader in parts]
    if info.is_main:
        barrier()
    return merge_features(banks)


def eval_image_names(eval_sets: list[EvalSet]) -> list[str]:
    return sorted({n for s in eval_sets for n in s.image_names()})


def output_dir(args: Namespace, script: str) -> Path:
    return Path(args.output_dir) if args.output_dir else Path("outputs") / "spirit" / script


def _setup(args: Namespace) -> tuple[DistInfo, torch.device]:
    info = init_distributed()
    seed_everything(args.seed, info.rank)
    device = resolve_device(args.device, info)
    return info, device


def _save_predictions(out_dir: Path, protocol: str, eval_sets: list[EvalSet], rankings: list[Rankings],
                      reader: BenchmarkReader) -> None:
    rows = [row for s, r in zip(eval_sets, rankings) for row in prediction_rows(s, r)]
    used = {n for row in rows for n in [row["reference"], *row["targets"], *row["ranked"]]}
    save_predictions(out_dir, protocol, rows, {n: reader.image_path(n) for n in used})


class Validator:
    """Validation callback for the trainer; remembers the rankings of the best epoch for the viewer."""

    def __init__(self, dataset: str, eval_sets: list[EvalSet], features: ImageFeatures, texts: TextFeatureCache,
                 device: torch.device, batch_size: int):
        self.dataset, self.eval_sets, self.features, self.texts = dataset, eval_sets, features, texts
        self.device, self.batch_size = device, batch_size
        self.best_avg, self.best_rankings = float("-inf"), None

    def __call__(self, model: SPIRIT) -> dict[str, float]:
        rankings = [rank(model, self.features, self.texts, s, self.device, self.batch_size) for s in self.eval_sets]
        metrics = metrics_for(self.dataset, self.eval_sets, rankings)
        if metrics.get("avg", 0.0) > self.best_avg:
            self.best_avg, self.best_rankings = metrics["avg"], rankings
        return metrics


def train_main(dataset: str, argv: list[str] | None = None) -> dict:
    """run/train_<dataset>.py: train on the train split, validate (not Fashion200k), write metrics.json."""
    args = train_parser(dataset).parse_args(argv)
    info, device = _setup(args)
    out_dir = output_dir(args, f"train_{dataset}")
    backbone = load_frozen_clip(args, device)
    train_set, train_reader = load_train_set(dataset, args.data_root)
    eval_split = "test" if dataset == "fashion200k" else None
    eval_sets, eval_reader = load_eval_sets(dataset, args.data_root, split=eval_split)
    train_set, train_coverage = present_train_set(train_set, train_reader, args.allow_partial)
    eval_sets, eval_coverage = present_eval_sets(eval_sets, eval_reader, args.allow_partial)
    coverage = {"train": train_coverage, "eval": eval_coverage}
    features = cached_features(backbone, [(train_set.image_names(), train_reader),
                                          (eval_image_names(eval_sets), eval_reader)], args, info, device)
    texts = TextFeatureCache(backbone, device)
    model_config = {"feature_dim": features.dim, "projection_dim": args.projection_dim, "hidden_dim": args.hidden_dim,
                    "num_patches": NUM_PATCHES, "sa_gate": args.sa_gate}
    seed_everything(args.seed, info.rank)  # the model's init must not depend on whether features were cached
    model = SPIRIT(**model_config).to(device)
    protocol, stem = DATASETS[dataset][3], DATASETS[dataset][1]
    split = "test" if dataset == "fashion200k" else eval_reader.split
    tracker = RunTracker(out_dir, "spirit", dataset, split, protocol, config={**vars(args), "world_size": info.world_size})
    rank0_print(f"SPIRIT {dataset}: {len(train_set.triplets)} training triplets, {len(features.names)} images, "
                f"D={features.dim}, {sum(p.numel() for p in model.parameters()):,} parameters, {info.world_size} process(es)")
    validator = Validator(dataset, eval_sets, features, texts, device, 256) if dataset != "fashion200k" else None
    metrics, best_epoch = train(model, model_config, train_set, features, texts, args, info, tracker, stem, validator)
    if info.is_main:
        if validator is None:
            rankings = [rank(model, features, texts, s, device) for s in eval_sets]
            metrics = {**metrics_for(dataset, eval_sets, rankings), **metrics}
        else:
            rankings = validator.best_rankings
        tracker.write_metrics({**metrics, "epoch": best_epoch}, coverage)
        _save_predictions(out_dir, protocol, eval_sets, rankings, eval_reader)
        rank0_print(f"metrics.json written to {out_dir}")
    tracker.close()
    barrier()
    cleanup()
    return metrics


def test_main(dataset: str, argv: list[str] | None = None) -> dict:
    """run/test_<dataset>.py: evaluate a checkpoint in eval mode; CIRR test1 writes the server files."""
    args = test_parser(dataset).parse_args(argv)
    if args.patch_num != NUM_PATCHES:
        raise ValueError(f"--patch-num {args.patch_num}: the patch features have {NUM_PATCHES} crops (2x2 + 3x3)")
    info, device = _setup(args)
    out_dir = output_dir(args, f"test_{dataset}")
    model, ckpt = load_spirit(args.model_path)
    if ckpt.get("clip") and not args.clip_model_path:  # the authors' file carries its fine-tuned CLIP
        args.clip_model_path = carried_clip_file(ckpt["clip"], out_dir)
    model = model.to(device).eval()
    backbone = load_frozen_clip(args, device)
    protocol = getattr(args, "protocol", DATASETS[dataset][3])
    split = getattr(args, "split", "test" if dataset == "fashion200k" else None)
    eval_sets, reader = load_eval_sets(dataset, args.data_root, split=split, protocol=protocol)
    eval_sets, coverage = present_eval_sets(eval_sets, reader, args.allow_partial)
    features = cached_features(backbone, [(eval_image_names(eval_sets), reader)], args, info, device)
    if features.dim != model.feature_dim:
        raise ValueError(f"{args.model_path}: model width {model.feature_dim} does not match {args.clip_model_name} "
                         f"features ({features.dim})")
    texts = TextFeatureCache(backbone, device)
    tracker = RunTracker(out_dir, "spirit", dataset, reader.split, protocol, config={**vars(args), **ckpt.get("config", {})})
    metrics = {}
    if info.is_main:
        rankings = [rank(model, features, texts, s, device, args.batch_size) for s in eval_sets]
        if dataset == "cirr" and reader.split == "test1":
            (eval_set,), (ranking,) = eval_sets, rankings
            paths = write_cirr_submission(out_dir / "submission", "spirit", eval_set.query_ids,
                                          ranking.ranked, ranking.subset_ranked)
            metrics = {"queries": float(len(eval_set.query_ids))}
            rank0_print("CIRR test1 submission files: " + ", ".join(str(p) for p in paths))
        else:
            metrics = metrics_for(dataset, eval_sets, rankings)
        tracker.write_metrics(metrics, coverage)
        _save_predictions(out_dir, protocol, eval_sets, rankings, reader)
        rank0_print("  ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
    tracker.close()
    barrier()
    cleanup()
    return metrics
