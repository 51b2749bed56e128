"""Training-free CIR baselines (image-only, text-only, CLIP feature sum) on every benchmark via the common readers.

    python -m common.baselines --data-root datasets/synthetic --backbone synthetic-tiny --output-dir outputs/baselines

Queries: image-only = f_img(reference); text-only = f_txt(text as written); feature sum (CLIP4Cir's
element-wise sum) = normalize(normalize(f_img) + normalize(f_txt)). The gallery is ranked by cosine similarity.
FashionIQ, CIRR, CIRCO and GeneCIS run through `common.zeroshot` (each baseline is a `QueryEncoder`); Shoes,
Fashion200k and FashionMT are evaluated here. Each (method, protocol) writes
`<output-dir>/<method>/<protocol>/[<subset>/]metrics.json` and `predictions.json`.
Texts: FashionIQ joins its two captions as CLIP4Cir evaluates them (`fiq_caption(c1, c2, "eval")`); Shoes and CIRR
use the relative caption, Fashion200k the TIRG modifier, CIRCO the relative caption (`circo.relcap`), GeneCIS
the condition. FashionMT (final turn, target tar3): the last image tar2 and the last modifier mod3 (the
single-turn baseline a multi-turn method must beat), plus a feature sum over all three history images and
modifiers (variant `all-turns`). Reference removal only for CIRR; Fashion200k counts caption matches as hits.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from common import zeroshot
from common.clip import load_clip
from common.data import CIRCO, CIRR, FashionIQ, FashionMT, Fashion200k, GeneCIS, Shoes
from common.data.base import BenchmarkReader
from common.data.fashionmt import SUBSETS as FASHIONMT_SUBSETS
from common.metrics import final_turn_recall, recall_report, shoes_avg
from common.retrieval import encode_gallery, encode_texts, rank_gallery, weights_fingerprint
from common.tracking import RunTracker
from common.viewer import save_predictions

METHODS = ("image_only", "text_only", "feature_sum")
BENCHMARKS = ("fashioniq", "shoes", "fashion200k", "cirr", "circo", "genecis", "fashionmt")
FOLDERS = {"fashioniq": "fashion-iq", "shoes": "shoes", "fashion200k": "fashion200k", "cirr": "cirr_dataset",
           "circo": "CIRCO", "genecis": "genecis", "fashionmt": "FashionMT"}
TOP = 50
PREDICTION_ROWS = 60
HEADLINES = {
    "fiq": ("average_R@10", "average_R@50", "avg"), "shoes": ("R@1", "R@10", "R@50", "avg"),
    "f200k": ("R@1", "R@10", "R@50"), "cirr": ("R@1", "R@5", "R@10", "Rsubset@1", "avg"),
    "circo": ("mAP@5", "mAP@10", "mAP@25", "mAP@50"), "genecis": ("R@1", "R@2", "R@3"),
    "fashionmt": ("R@1", "R@5", "R@10", "R@20", "mean"),
}


@dataclass
class Run:
    """One metrics.json to write: a method on one protocol (and subset)."""

    method: str
    protocol: str
    dataset: str
    split: str
    metrics: dict[str, float]
    coverage: dict[str, Any]
    predictions: list[dict]
    image_paths: dict[str, Path]
    subset: str | None = None
    variant: str | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)


def compose(method: str, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """The query feature of a baseline from (unnormalised) image and text features."""
    if method == "image_only":
        return image
    if method == "text_only":
        return text
    if method == "feature_sum":
        return F.normalize(F.normalize(image, dim=-1) + F.normalize(text, dim=-1), dim=-1)
    raise ValueError(f"unknown baseline method {method!r}; expected one of {METHODS}")


class FeatureExtractor:
    """Image features through the cached `encode_gallery` and text features, each image and text encoded once per run
    and shared by every baseline."""

    def __init__(self, backbone: torch.nn.Module, cache_dir: Path | None, batch_size: int, num_workers: int,
                 progress: Callable | None = None) -> None:
        self.backbone, self.cache_dir = backbone, cache_dir
        self.batch_size, self.num_workers, self.progress = batch_size, num_workers, progress
        self.transform_id = f"targetpad1.25-{backbone.image_size}px"
        self.weights_id = weights_fingerprint(backbone)
        self._image_features: dict[tuple[str, str], torch.Tensor] = {}
        self._text_features: dict[str, torch.Tensor] = {}

    def images(self, names: Sequence[str], path_fn: Callable[[str], Path],
               load_image: Callable[[str], Image.Image] | None = None) -> torch.Tensor:
        """Features [len(names), D] of `names`; an image (a name at its path) is encoded the first time it is asked."""
        keys = [(name, str(path_fn(name))) for name in names]
        new = [key for key in dict.fromkeys(keys) if key not in self._image_features]
        if new:
            features = encode_gallery(self.backbone, [name for name, _ in new], path_fn, self.cache_dir,
                                      self.transform_id, self.batch_size, load_image=load_image,
                                      num_workers=self.num_workers, progress=self.progress,
                                      weights_id=self.weights_id)
            self._image_features.update(zip(new, features))
        return torch.stack([self._image_features[key] for key in keys])

    def texts(self, texts: Sequence[str]) -> torch.Tensor:
        """`encode_text` features [len(texts), D] (float32, not normalised), each distinct text encoded once and
        cached on disk beside the image features."""
        new = [t for t in dict.fromkeys(texts) if t not in self._text_features]
        if new:
            features = encode_texts(self.backbone, new, self.cache_dir, weights_id=self.weights_id)
            self._text_features.update(zip(new, features))
        return torch.stack([self._text_features[t] for t in texts])


class BaselineEncoder:
    """One baseline as a `common.zeroshot.QueryEncoder`, on the features of a shared `FeatureExtractor`."""

    def __init__(self, method: str, features: FeatureExtractor) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown baseline method {method!r}; expected one of {METHODS}")
        self.method, self.features = method, features

    def gallery(self, names: Sequence[str], image_path: zeroshot.ImagePath,
                load_image: zeroshot.LoadImage = None) -> torch.Tensor:
        return self.features.images(names, image_path, load_image)

    def queries(self, references: Sequence[str], texts: Sequence[str], image_path: zeroshot.ImagePath,
                load_image: zeroshot.LoadImage = None) -> torch.Tensor:
        images = self.features.images(references, image_path, load_image)
        return compose(self.method, images, self.features.texts(texts))


def _prediction_rows(references: Sequence[str | None], texts: Sequence[str], targets: Sequence[Sequence[str]],
                     ranked: Sequence[Sequence[str]]) -> list[dict]:
    return zeroshot.prediction_rows(references, texts, targets, ranked)[:PREDICTION_ROWS]


def _queries(methods: Sequence[str], images: torch.Tensor, texts: torch.Tensor) -> dict[str, torch.Tensor]:
    return {m: compose(m, images, texts) for m in methods}


def _zero_shot_runs(fx: FeatureExtractor, methods: Sequence[str], reader: BenchmarkReader, protocol: str,
                    dataset: str, split: str, evaluate: Callable[[BaselineEncoder], zeroshot.Evaluation]) -> list[Run]:
    """One run per baseline of a `common.zeroshot` evaluation."""
    runs = []
    for method in methods:
        metrics, rows, coverage = evaluate(BaselineEncoder(method, fx))
        shown = rows[:PREDICTION_ROWS]
        used = {n for row in shown for n in [row["reference"], *row["targets"], *row["ranked"]] if n}
        runs.append(Run(method, protocol, dataset, split, metrics, coverage, shown,
                        {n: reader.image_path(n) for n in sorted(used)}))
    return runs


def eval_fashioniq(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    reader = FashionIQ(root, "val")
    return [run for protocol in reader.protocols for run in _zero_shot_runs(
        fx, methods, reader, protocol, "fashioniq", "val",
        lambda enc: zeroshot.evaluate_fashioniq(enc, root, reader.categories, protocol, caption_mode="eval",
                                                allow_partial=allow_partial))]


def _single_gallery_runs(reader: BenchmarkReader, fx: FeatureExtractor, methods: Sequence[str], dataset: str,
                         references: list[str], texts: list[str], targets: list, gallery: list[str],
                         report: Callable[[list[list[str]]], dict[str, float]], coverage: dict[str, Any]) -> list[Run]:
    """Runs of a benchmark with one gallery and the reference kept in it (Shoes, Fashion200k)."""
    features = fx.images(list(gallery) + references, reader.image_path)
    gallery_features, reference_features = features[:len(gallery)], features[len(gallery):]
    shown = [sorted(t) if isinstance(t, (set, frozenset)) else [t] for t in targets]
    runs = []
    paths = {n: reader.image_path(n) for n in dict.fromkeys(list(gallery) + references)}
    for method, query in _queries(methods, reference_features, fx.texts(texts)).items():
        ranked = rank_gallery(query, gallery_features, gallery, TOP)
        runs.append(Run(method, reader.protocols[0], dataset, reader.split, report(ranked), coverage,
                        _prediction_rows(references, texts, shown, ranked), paths))
    return runs


def eval_shoes(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    reader = Shoes(root, "val")
    coverage, missing = zeroshot.present_images(reader, allow_partial)
    triplets = [t for t in reader.queries if t.reference not in missing and t.target not in missing]
    gallery = [n for n in reader.gallery() if n not in missing]
    targets = [t.target for t in triplets]

    def report(ranked: list[list[str]]) -> dict[str, float]:
        recalls = recall_report(ranked, targets, (1, 10, 50))
        return {**recalls, "avg": shoes_avg(recalls)}

    return _single_gallery_runs(reader, fx, methods, "shoes", [t.reference for t in triplets],
                                [t.caption for t in triplets], targets, gallery, report,
                                {**coverage, "queries": len(triplets), "queries_total": len(reader.queries)})


def eval_fashion200k(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    reader = Fashion200k(root, "test")
    coverage, missing = zeroshot.present_images(reader, allow_partial)
    pairs = [p for p in reader.queries if p.reference not in missing and p.target not in missing]
    gallery = [n for n in reader.gallery() if n not in missing]
    with_caption: dict[str, set[str]] = {}
    for name in gallery:
        with_caption.setdefault(reader.caption_of(name), set()).add(name)
    targets = [with_caption.get(p.target_caption, {p.target}) for p in pairs]
    return _single_gallery_runs(reader, fx, methods, "fashion200k", [p.reference for p in pairs],
                                [p.modifier for p in pairs], targets, gallery,
                                lambda ranked: recall_report(ranked, targets, (1, 10, 50)),
                                {**coverage, "queries": len(pairs), "queries_total": len(reader.queries)})


def eval_cirr(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    return _zero_shot_runs(fx, methods, CIRR(root, "val"), "cirr.rc2", "cirr", "val",
                           lambda enc: zeroshot.evaluate_cirr(enc, root, allow_partial=allow_partial))


def eval_circo(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    return _zero_shot_runs(fx, methods, CIRCO(root, "val"), "circo.relcap", "circo", "val",
                           lambda enc: zeroshot.evaluate_circo(enc, root, allow_partial=allow_partial))


def eval_genecis(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    runs = []
    for task in zeroshot.GENECIS_TASKS:
        if not (root / f"{task}.json").is_file():
            print(f"baselines: genecis.{task}: {root / f'{task}.json'} not found, skipped", file=sys.stderr)
            continue
        runs += _zero_shot_runs(fx, methods, GeneCIS(root, task), f"genecis.{task}", "genecis", task,
                                lambda enc: zeroshot.evaluate_genecis(enc, root, task, allow_partial=allow_partial))
    return runs


def eval_fashionmt(fx: FeatureExtractor, root: Path, methods: Sequence[str], allow_partial: bool) -> list[Run]:
    runs = []
    for subset, prefix in FASHIONMT_SUBSETS.items():
        eval_part = "val" if subset == "fiq" else "test"
        if not (root / "modifiers" / f"{prefix}_{eval_part}_cap.json").is_file():
            continue
        reader = FashionMT(root, "test", subset=subset)
        coverage, missing = zeroshot.present_images(reader, allow_partial)
        sessions = [s for s in reader.queries if not set(s.images) & missing]
        gallery = [n for n in reader.gallery() if n not in missing]
        history = [n for s in sessions for n in s.images[:3]]
        gallery_features = fx.images(gallery + history, reader.image_path)[:len(gallery)]
        targets = [s.tar3 for s in sessions]
        coverage = {**coverage, "queries": len(sessions), "queries_total": len(reader.queries)}
        last_images = fx.images([s.tar2 for s in sessions], reader.image_path)
        last_texts = fx.texts([s.mod3 for s in sessions])
        queries = {(m, None): q for m, q in _queries(methods, last_images, last_texts).items()}
        if "feature_sum" in methods:
            history_images = sum(F.normalize(fx.images([s.images[k] for s in sessions], reader.image_path), dim=-1)
                                 for k in range(3))
            history_texts = sum(F.normalize(fx.texts([s.modifiers[k] for s in sessions]), dim=-1) for k in range(3))
            queries[("feature_sum", "all-turns")] = compose("feature_sum", history_images, history_texts)
        paths = {n: reader.image_path(n) for n in dict.fromkeys(gallery + history)}
        for (method, variant), query in queries.items():
            ranked = rank_gallery(query, gallery_features, gallery, TOP)
            runs.append(Run(method, "fashionmt.final_turn", "fashionmt", "test", final_turn_recall(ranked, targets),
                            coverage, _prediction_rows([s.tar2 for s in sessions], [s.mod3 for s in sessions],
                                                       [[t] for t in targets], ranked), paths, subset=subset,
                            variant=subset if variant is None else f"{subset}, {variant}",
                            extra_config={"fashionmt_subset": subset, "query": variant or "last-turn"}))
    return runs


EVALUATORS: dict[str, Callable[[FeatureExtractor, Path, Sequence[str], bool], list[Run]]] = {
    "fashioniq": eval_fashioniq, "shoes": eval_shoes, "fashion200k": eval_fashion200k, "cirr": eval_cirr,
    "circo": eval_circo, "genecis": eval_genecis, "fashionmt": eval_fashionmt,
}


def run_dir(output_dir: Path, run: Run) -> Path:
    """`<out>/<method>/<protocol>[/<subset or variant>]`; every variant gets its own folder (no overwrite)."""
    folder = output_dir / run.method / run.protocol
    leaf = run.variant or run.subset
    return folder / leaf.replace(", ", "-") if leaf else folder


def write_run(output_dir: Path, run: Run, config: dict[str, Any]) -> Path:
    """metrics.json (+ predictions.json for the viewer) of one run."""
    folder = run_dir(output_dir, run)
    tracker = RunTracker(folder, run.method, run.dataset, run.split, run.protocol,
                         {**config, **run.extra_config, "method": run.method}, variant=run.variant, tensorboard=False)
    path = tracker.write_metrics(run.metrics, run.coverage)
    save_predictions(folder, run.protocol, run.predictions, run.image_paths)
    return path


def format_table(runs: Sequence[Run]) -> str:
    """A markdown table: one row per run with its protocol's headline metrics."""
    lines = ["| method | protocol | metrics |", "|---|---|---|"]
    for run in runs:
        keys = HEADLINES[run.protocol.split(".")[0]]
        values = ", ".join(f"{k} {run.metrics[k]:.2f}" for k in keys if k in run.metrics)
        name = run.method + (f" ({run.variant})" if run.variant else "")
        lines.append(f"| {name} | {run.protocol} | {values} |")
    return "\n".join(lines)


def default_cache_dir() -> Path:
    return Path(os.environ.get("CIR_CACHE", Path.home() / ".cache" / "cir")).expanduser() / "features"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m common.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("datasets"))
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/baselines"))
    parser.add_argument("--backbone", default="synthetic-tiny", help="CLIP name for common.clip.load_clip")
    parser.add_argument("--backend", default="auto", choices=("auto", "openai", "open_clip", "hf"))
    parser.add_argument("--pretrained", default=None, help="local CLIP weights (file or folder)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--benchmarks", nargs="+", default=None, choices=BENCHMARKS,
                        help="default: every benchmark whose folder exists under --data-root")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="image feature cache")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    parser.add_argument("--allow-partial", action="store_true",
                        help="evaluate even when images are missing (queries touching them are dropped; recorded)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point. Evaluation is cheap next to encoding, so under torchrun rank 0 does everything and the
    other ranks return at once (no process group, hence no collective timeout on long galleries)."""
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:
        print(f"baselines: rank {rank} has nothing to do (rank 0 evaluates)", file=sys.stderr)
        return 0
    run_baselines(args)
    return 0


def run_baselines(args: argparse.Namespace, backbone: torch.nn.Module | None = None) -> list[Run]:
    """Evaluate the requested baselines, write every run, print the table; returns the runs.

    `backbone` (a ClipBackbone) overrides loading `args.backbone`.
    """
    benchmarks = args.benchmarks
    if benchmarks is None:
        benchmarks = [b for b in BENCHMARKS if (args.data_root / FOLDERS[b]).is_dir()]
        for skipped in sorted(set(BENCHMARKS) - set(benchmarks)):
            print(f"baselines: {args.data_root / FOLDERS[skipped]} not found, {skipped} skipped", file=sys.stderr)
        if not benchmarks:
            raise FileNotFoundError(f"{args.data_root}: no benchmark folder found ({', '.join(FOLDERS.values())})")
    if backbone is None:
        backbone = load_clip(args.backbone, backend=args.backend, pretrained=args.pretrained, device=args.device)
    backbone.eval()
    fx = FeatureExtractor(backbone, None if args.no_cache else args.cache_dir, args.batch_size, args.num_workers)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    config.update(backbone_id=f"{getattr(backbone, 'backend', '')}:{getattr(backbone, 'name', '')}",
                  backbone_weights=fx.weights_id, preprocessing=fx.transform_id)
    runs: list[Run] = []
    for benchmark in benchmarks:
        print(f"baselines: {benchmark} ...", file=sys.stderr, flush=True)
        for run in EVALUATORS[benchmark](fx, args.data_root / FOLDERS[benchmark], args.methods, args.allow_partial):
            write_run(args.output_dir, run, config)
            runs.append(run)
    print(format_table(runs), flush=True)
    return runs


if __name__ == "__main__":
    sys.exit(main())
