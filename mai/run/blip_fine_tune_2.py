"""Single-turn FashionIQ / CIRR training of MAI's Q-Former with SPRC's flags (SPRC `src/blip_fine_tune_2.py`).

The model runs its single-turn `fiq` mode (MAI `train_fiq`): BSA and MSA both read the relative caption, the
target is image-only (32 tokens through `target_proj`), loss = the token contrast loss with the learnable
temperature; validation on the val split every `--validation-frequency` epochs (FashionIQ `fiq.original`,
CIRR `cirr.rc2`). Optimiser and schedules as SPRC: AdamW (0.9, 0.98), eps 1e-7, wd 0.05; OneCycle with
pct_start 1.5/epochs and div_factor 100 (FashionIQ) or pct_start 1/50 over max(80, epochs) epochs (CIRR).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common.clip import get_transform
from common.dist import (barrier, cleanup, distributed_sampler, init_distributed, is_main, rank0_print,
                         resolve_device, seed_everything, wrap_ddp)
from common.tracking import RunTracker
from mai.dataloader.fashionmt import ImageTokens, collate_sessions
from mai.run.builders import (add_model_args, build_image_encoder, build_model, build_tokenizer, save_mai_checkpoint,
                              stage1_folder)
from mai.run.single_turn import (SINGLE_TURN, TripletDataset, evaluate_single_turn, open_single_turn,
                                 query_text, selection_score, triplets)

# SPRC README values per dataset (its argparse defaults differ; the README's are the ones used)
README_DEFAULTS = {"FashionIQ": {"num_epochs": 30, "learning_rate": 2e-5},
                   "CIRR": {"num_epochs": 50, "learning_rate": 1e-5}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(SINGLE_TURN))
    p.add_argument("--blip-model-name", default="blip2_cir_align_prompt", choices=("blip2_cir_align_prompt",))
    p.add_argument("--num-epochs", type=int, default=None, help="default: SPRC README (FashionIQ 30, CIRR 50)")
    p.add_argument("--learning-rate", type=float, default=None, help="default: SPRC README (FashionIQ 2e-5, CIRR 1e-5)")
    p.add_argument("--batch-size", type=int, default=128, help="per process")
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--transform", default="targetpad", choices=("targetpad", "squarepad", "clip"))
    p.add_argument("--target-ratio", type=float, default=1.25)
    p.add_argument("--validation-frequency", type=int, default=1)
    p.add_argument("--save-training", action="store_true", help="save <output-dir>/last.pth at every validation")
    p.add_argument("--save-best", action="store_true", help="save <output-dir>/best.pth on the best validation")
    p.add_argument("--data-root", default="datasets/synthetic")
    p.add_argument("--output-dir", default="outputs/mai/single_turn")
    p.add_argument("--cache-dir", default=None, help="frozen image-token cache (default <data-root>/.cache/mai)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default=None)
    add_model_args(p)
    args = p.parse_args(argv)
    for key, value in README_DEFAULTS[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _scheduler(args: argparse.Namespace, optimizer, steps_per_epoch: int):
    if args.dataset == "FashionIQ":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.learning_rate, pct_start=min(1.5 / args.num_epochs, 0.3), div_factor=100,
            steps_per_epoch=steps_per_epoch, epochs=args.num_epochs)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.learning_rate, pct_start=1 / 50,
                                               steps_per_epoch=steps_per_epoch, epochs=max(80, args.num_epochs))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    info = init_distributed()
    device = resolve_device(args.device, info)
    seed_everything(args.seed, info.rank)
    out = Path(args.output_dir)
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.data_root) / ".cache" / "mai"
    train_reader = open_single_turn(args.data_root, args.dataset, "train")
    val_reader = open_single_turn(args.data_root, args.dataset, "val")
    train_items = triplets(train_reader)
    encoder = build_image_encoder(args, device)
    transform = get_transform(args.transform, encoder.image_size, args.target_ratio)
    transform_name = f"{args.transform}:{args.target_ratio}:{encoder.image_size}"
    if not is_main():
        barrier()  # rank 0 fills the token caches and builds the stage-1 Q-Former first
    train_tokens = ImageTokens(encoder, [n for t in train_items for n in (t.reference, t.target)],
                               train_reader.image_path, cache_dir, transform=transform, transform_name=transform_name)
    val_images = [*val_reader.gallery(), *(t.reference for t in triplets(val_reader))]
    val_tokens = ImageTokens(encoder, val_images, val_reader.image_path, cache_dir, transform=transform,
                             transform_name=transform_name) if is_main() else None
    stage1 = stage1_folder(args, encoder)
    if is_main():
        barrier()
    texts = [query_text(t.captions, False, None) for t in train_items] + [c for t in train_items for c in t.captions]
    tokenizer, vocab_file = build_tokenizer(args.vocab, texts, out, stage1)
    torch.manual_seed(args.seed)
    model = build_model(args, tokenizer, encoder.width, stage1).to(device)
    ddp_model = wrap_ddp(model, find_unused_parameters=True)
    dataset = TripletDataset(train_items, seed=args.seed + info.rank)
    sampler = distributed_sampler(dataset, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                        num_workers=args.num_workers, collate_fn=collate_sessions,
                        generator=torch.Generator().manual_seed(args.seed))
    if len(loader) == 0:
        raise ValueError(f"{args.dataset}: {len(dataset)} training triplets over {info.world_size} processes give no "
                         f"full batch of --batch-size {args.batch_size}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.05)
    scheduler = _scheduler(args, optimizer, len(loader))
    protocol = SINGLE_TURN[args.dataset][1]
    tracker = RunTracker(out, method="mai", dataset=args.dataset, split="val", protocol=protocol, config=vars(args),
                         variant="single-turn")
    rank0_print(f"MAI single-turn {args.dataset}: {len(dataset)} triplets, {len(loader)} steps/epoch, world "
                f"{info.world_size}")
    metrics: dict[str, float] = {}
    best = -math.inf
    step = 0
    for epoch in range(args.num_epochs):
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        ddp_model.train()
        for batch in tracker.progress(loader, desc=f"epoch {epoch}"):
            torch.manual_seed(args.seed * 1_000_003 + step * 97 + info.rank)
            samples = {"image": train_tokens(batch["reference"], device),
                       "target": train_tokens(batch["target"], device), "text_input": batch["text"]}
            loss = ddp_model(samples, "fiq")["loss_itc"]
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"MAI single-turn: non-finite loss at epoch {epoch} step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            tracker.log_scalar("train/loss", loss.item(), step)
            step += 1
        last = epoch == args.num_epochs - 1
        if (epoch + 1) % max(args.validation_frequency, 1) == 0 or last:
            if is_main():
                metrics = evaluate_single_turn(model, val_tokens, val_reader, predictions_dir=out if last else None)
                tracker.log_scalars(metrics, epoch, prefix="val/")
                score = selection_score(args.dataset, metrics)
                rank0_print(f"epoch {epoch}: loss {loss.item():.4f} selection {score:.2f}")
                if args.save_training:
                    save_mai_checkpoint(out / "last.pth", model, epoch, args, vocab_file)
                if args.save_best and score > best:
                    best = score
                    save_mai_checkpoint(out / "best.pth", model, epoch, args, vocab_file)
            barrier()
    if is_main():
        tracker.write_metrics(metrics)
    tracker.close()
    cleanup()
    return metrics


if __name__ == "__main__":
    main()
