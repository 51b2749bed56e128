"""FashionERN evaluation entry logic (shared by run/test_*.py): metrics.json, viewer predictions, CIRR server files."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint
from common.clip4cir import carried_clip_file
from common.dist import init_distributed, is_main, resolve_device
from common.submission import write_cirr_submission
from common.tracking import RunTracker
from common.viewer import save_predictions
from fashionern.dataloader.benchmarks import BUILDERS, Benchmark, present_only
from fashionern.dataloader.features import ImageFeatures, TextFeatures
from fashionern.models import ERN, TME, TextTower
from fashionern.models.weights import convert_original_state_dict, load_ern_weights
from fashionern.run.evaluate import evaluate, gallery_embeddings, query_embeddings, subset_rankings
from fashionern.run.options import cache_dir, load_frozen_backbone
from common.retrieval import rank_gallery


def load_model(args: argparse.Namespace, backbone, device: torch.device, has_tme: bool) -> ERN:
    """ERN, with TME iff the checkpoint has TME weights, strictly loaded from --fusion-model-path."""
    dim = backbone.embed_dim
    tme = TME.for_tower(TextTower.from_backbone(backbone), dim, args.tme_mlp_ratio) if has_tme else None
    model = ERN(dim, tme)
    load_ern_weights(model, args.fusion_model_path)
    return model.to(device).eval()


def stores(backbone, bench: Benchmark, args, vanilla: bool) -> tuple[ImageFeatures, TextFeatures]:
    """Image features and caption tokens; the frozen-CLIP text features only for a model without TME (`vanilla`)."""
    names = [n for split in bench.evals for n in [q.reference for q in split.queries] + split.gallery]
    captions = [q.caption for split in bench.evals for q in split.queries]
    images = ImageFeatures(backbone, names, bench.image_path, cache_dir(args))
    return images, TextFeatures(backbone, captions, TextTower.from_backbone(backbone), vanilla=vanilla)


def predictions(bench: Benchmark, rankings: dict) -> tuple[list[dict], dict]:
    rows, paths = [], {}
    for split in bench.evals:
        for query, ranked in zip(split.queries, rankings[split.name]):
            targets = [query.target] if query.target is not None else []
            rows.append({"reference": query.reference, "text": query.caption, "targets": targets, "ranked": ranked[:10]})
            for name in [query.reference, *targets, *ranked[:10]]:
                paths[name] = bench.image_path(name)
    return rows, paths


def run_test(dataset: str, parser: argparse.ArgumentParser, argv: list[str] | None = None,
             protocols: tuple[str, ...] | None = None, split: str = "val") -> dict[str, dict]:
    """Evaluate a checkpoint; one `<output-dir>/<protocol>/metrics.json` per protocol (or the CIRR test1 files)."""
    args = parser.parse_args(argv)
    info = init_distributed()
    device = resolve_device(args.device, info)
    output_dir = Path(args.output_dir or f"outputs/fashionern/test-{dataset}")
    fusion, carried = convert_original_state_dict(load_checkpoint(args.fusion_model_path))
    clip_path = args.clip_path
    if clip_path is None and carried:  # the authors' file carries its fine-tuned CLIP, which the original tests with
        clip_path = carried_clip_file(carried, output_dir)
    backbone = load_frozen_backbone(args, clip_path, device)
    model = load_model(args, backbone, device, has_tme=any(k.startswith("TME.") for k in fusion))
    variant = "tme" if model.has_tme else "no-tme"
    results = {}
    for protocol in protocols or (None,):
        bench = BUILDERS[dataset](args.data_root, split, protocol) if protocol else BUILDERS[dataset](args.data_root, split)
        bench, cover = present_only(bench, args.allow_partial)
        images, texts = stores(backbone, bench, args, vanilla=not model.has_tme)
        out = output_dir / bench.protocol if protocols else output_dir
        if split == "test1":
            (only,) = bench.evals
            gallery = gallery_embeddings(model, images, only.gallery)
            queries = query_embeddings(model, images, texts, only.queries)
            ranked = rank_gallery(queries, gallery, only.gallery, 50, exclude_names=[q.reference for q in only.queries])
            subset = subset_rankings(queries, gallery, only.gallery, only.queries)
            if is_main():
                write_cirr_submission(out / "submission" / "CIRR", "fashionern", [q.pairid for q in only.queries],
                                      ranked, subset)
            continue
        metrics, rankings = evaluate(model, bench, images, texts)
        if is_main():
            tracker = RunTracker(out, "fashionern", bench.dataset, bench.split, bench.protocol, config=vars(args),
                                 variant=variant, tensorboard=False)
            tracker.write_metrics(metrics, coverage=cover)
            rows, paths = predictions(bench, rankings)
            save_predictions(out, bench.protocol, rows, paths)
            print(f"[fashionern] {bench.protocol}: " + " ".join(f"{k}={v:.2f}" for k, v in metrics.items()))
        results[bench.protocol] = metrics
    return results
