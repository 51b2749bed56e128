"""Evaluate a MAI checkpoint on FashionMT's final turn (original `src/test.py`); writes metrics.json + predictions."""
from __future__ import annotations

import argparse
from pathlib import Path

from common.dist import cleanup, init_distributed, is_main, resolve_device
from common.tracking import RunTracker
from mai.dataloader.fashionmt import DATASETS, open_fashionmt
from mai.run.builders import build_image_encoder, load_mai_checkpoint
from mai.run.evaluation import PROTOCOL, evaluate_fashionmt


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fc", choices=sorted(DATASETS))
    p.add_argument("--blip-model-name", default="blip2_cir_align_prompt", choices=("blip2_cir_align_prompt",))
    p.add_argument("--model-dir", default="outputs/mai/train", help="folder of the training run's checkpoints")
    p.add_argument("--epoch-num", type=int, default=None, help="evaluate <model-dir>/epoch{N}.pth (default last.pth)")
    p.add_argument("--checkpoint", default=None, help="explicit checkpoint file (overrides --model-dir/--epoch-num)")
    p.add_argument("--data-root", default="datasets/synthetic")
    p.add_argument("--output-dir", default="outputs/mai/test")
    p.add_argument("--cache-dir", default=None, help="frozen image-token cache (default <data-root>/.cache/mai)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default=None)
    p.add_argument("--vit-weights", default=None, help="override the EVA ViT-g weights recorded in the checkpoint")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    info = init_distributed()
    device = resolve_device(args.device, info)
    out = Path(args.output_dir)
    ckpt = Path(args.checkpoint) if args.checkpoint else Path(args.model_dir) / (
        f"epoch{args.epoch_num}.pth" if args.epoch_num is not None else "last.pth")
    metrics: dict[str, float] = {}
    if is_main():  # evaluation is cheap next to training: rank 0 ranks the whole gallery
        model, enc = load_mai_checkpoint(ckpt, out)
        enc_args = argparse.Namespace(**enc)
        if args.vit_weights:
            enc_args.vit_weights = args.vit_weights
        encoder = build_image_encoder(enc_args, device)
        reader, regime, history = open_fashionmt(args.data_root, args.dataset, "test")
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.data_root) / ".cache" / "mai"
        metrics = evaluate_fashionmt(model.to(device), encoder, reader, regime, history, cache_dir,
                                     args.batch_size, predictions_dir=out)
        tracker = RunTracker(out, method="mai", dataset=f"FashionMT/{args.dataset}", split="test",
                             protocol=PROTOCOL, config={**vars(args), "checkpoint": str(ckpt)},
                             variant=args.dataset, tensorboard=False)
        tracker.write_metrics(metrics)
        print(" ".join(f"{k} {v:.2f}" for k, v in metrics.items()), flush=True)
    cleanup()
    return metrics


if __name__ == "__main__":
    main()
