"""FashionERN training loop over cached frozen-CLIP features (shared by run/train_*.py)."""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint, resume_position, save_atomic
from common.dist import (barrier, cleanup, distributed_sampler, init_distributed, is_main, rank0_print, resolve_device,
                         seed_everything, wrap_ddp)
from common.tracking import RunTracker
from fashionern.dataloader.benchmarks import BUILDERS, Benchmark, present_only
from fashionern.dataloader.features import ImageFeatures, TextFeatures
from fashionern.losses import BatchBasedClassificationLoss
from fashionern.models import ERN, TME, TextTower
from fashionern.models.weights import save_ern_weights
from fashionern.run.evaluate import evaluate, selection_metric
from fashionern.run.options import cache_dir, load_frozen_backbone

VAL_SPLIT = {"fashioniq": "val", "shoes": "val", "cirr": "val", "fashion200k": "test"}
CHECKPOINT_NAME = {"fashioniq": "fashioniq-best.pth", "shoes": "shoes-best.pth", "cirr": "cirr-best.pth",
                   "fashion200k": "fashion200k-best.pth"}


def image_store(backbone, bench: Benchmark, args) -> ImageFeatures:
    names = [n for t in bench.train for n in (t.reference, t.target)]
    for split in bench.evals:
        names += [q.reference for q in split.queries] + split.gallery
    return ImageFeatures(backbone, names, bench.image_path, cache_dir(args))


def text_store(backbone, bench: Benchmark, tower: TextTower, vanilla: bool) -> TextFeatures:
    captions = [c for t in bench.train for c in t.captions]
    captions += [q.caption for split in bench.evals for q in split.queries]
    return TextFeatures(backbone, captions, tower, vanilla)


def build_model(backbone, tower: TextTower, tme: bool, mlp_ratio: int) -> ERN:
    dim = backbone.embed_dim
    return ERN(dim, TME.for_tower(tower, dim, mlp_ratio) if tme else None)


def train(dataset: str, argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> dict:
    """Train on `dataset`, validate every --validation-frequency epochs, keep the best; returns the best metrics."""
    args = parser.parse_args(argv)
    info = init_distributed()
    device = resolve_device(args.device, info)
    seed_everything(args.seed, info.rank)
    output_dir = Path(args.output_dir or f"outputs/fashionern/{dataset}-{'tme' if args.tme else 'no-tme'}")
    backbone = load_frozen_backbone(args, args.clip_model_path, device)
    tower = TextTower.from_backbone(backbone)
    train_bench, train_coverage = present_only(BUILDERS[dataset](args.data_root, "train"), args.allow_partial)
    val_bench, val_coverage = present_only(BUILDERS[dataset](args.data_root, VAL_SPLIT[dataset]), args.allow_partial)
    train_images, val_images = image_store(backbone, train_bench, args), image_store(backbone, val_bench, args)
    train_texts = text_store(backbone, train_bench, tower, vanilla=not args.tme)
    val_texts = text_store(backbone, val_bench, tower, vanilla=not args.tme)

    torch.manual_seed(args.seed)
    model = build_model(backbone, tower, args.tme, args.tme_mlp_ratio).to(device)
    ddp_model = wrap_ddp(model, find_unused_parameters=True)  # the BERT pooler is unused, as in the original
    loss_fn = BatchBasedClassificationLoss()
    per_rank_batch = max(1, args.batch_size // info.world_size)
    items = train_bench.train
    sampler = distributed_sampler(range(len(items)), shuffle=True, seed=args.seed)
    drop_last = len(sampler) > per_rank_batch
    # own generator: starting an epoch must not draw from the global RNG that seeds each step
    loader = torch.utils.data.DataLoader(range(len(items)), batch_size=per_rank_batch, sampler=sampler, drop_last=drop_last,
                                         generator=torch.Generator().manual_seed(args.seed))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr, foreach=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, args.cosine_epochs * len(loader)))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    variant = "tme" if args.tme else "no-tme"
    tracker = RunTracker(output_dir, "fashionern", train_bench.dataset, val_bench.split, val_bench.protocol,
                         config=vars(args), variant=variant)
    rank0_print(f"[fashionern] {dataset}: {len(items)} triplets, {len(loader)} steps/epoch of {per_rank_batch} per rank "
                f"x {info.world_size} ranks, TME {'on' if args.tme else 'off'}, D={backbone.embed_dim}")
    best, best_metrics, step = -1.0, None, 0
    resume_path = output_dir / "resume_latest.pt" if args.resume_from_checkpoint == "latest" else args.resume_from_checkpoint
    if resume_path is not None:
        state = load_checkpoint(resume_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        best, best_metrics, step = state["best"], state["best_metrics"], int(state["step"])
        rank0_print(f"[fashionern] resumed from {resume_path} at step {step}")
    saved_epoch = state.get("epoch") if resume_path is not None else None
    first_epoch, skip = resume_position(resume_path, step, len(loader), saved_epoch)
    for epoch in range(first_epoch, args.num_epochs):
        sampler.set_epoch(epoch)
        model.train()
        start, running = time.time(), 0.0
        for i, batch in enumerate(loader):
            if epoch == first_epoch and i < skip:
                continue
            torch.manual_seed(args.seed * 1_000_003 + step * 97 + info.rank)  # dropout: a function of the step
            rows = batch.tolist()
            chosen = [items[i] for i in rows]
            pick = random.Random(hash((args.seed, epoch, rows[0], len(rows))))
            captions = [t.captions[pick.randrange(len(t.captions))] for t in chosen]
            ref_g, ref_l = (x.to(device) for x in train_images.lookup([t.reference for t in chosen]))
            tgt_g, tgt_l = (x.to(device) for x in train_images.lookup([t.target for t in chosen]))
            with torch.autocast(device_type=device.type, enabled=use_amp):
                if args.tme:
                    query, target, align = ddp_model(text=train_texts.tokens(captions).to(device), ref_feats=ref_g,
                                                     ref_local_feats=ref_l, tar_feats=tgt_g, tar_local_feats=tgt_l, mode="train")
                    loss = loss_fn(query, target) + args.tme_align_weight * loss_fn(align, tgt_g)
                else:
                    text_g, text_s = (x.to(device) for x in train_texts.vanilla(captions))
                    query, target = ddp_model(ref_feats=ref_g, ref_local_feats=ref_l, text_feats=text_g,
                                              text_seq_feats=text_s, tar_feats=tgt_g, tar_local_feats=tgt_l, mode="train")
                    loss = loss_fn(query, target)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            running += loss.item()
            step += 1
            tracker.log_scalar("train/loss", loss.item(), step)
            if args.checkpointing_steps and step % args.checkpointing_steps == 0 and is_main():
                save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "step": step,
                             "epoch": epoch, "best": best, "best_metrics": best_metrics},
                            output_dir / "resume_latest.pt")
            if step % args.print_frequency == 0:
                rank0_print(f"[fashionern] epoch {epoch} step {step} loss {loss.item():.4f}")
        rank0_print(f"[fashionern] epoch {epoch}: mean loss {running / max(1, len(loader)):.4f} ({time.time() - start:.1f}s)")
        last = epoch == args.num_epochs - 1
        if (epoch + 1) % args.validation_frequency == 0 or last:
            if is_main():
                metrics, _ = evaluate(model, val_bench, val_images, val_texts)
                tracker.log_scalars(metrics, epoch, prefix="val/")
                score = selection_metric(metrics)
                rank0_print(f"[fashionern] epoch {epoch} validation: {score:.2f} "
                            + " ".join(f"{k}={v:.2f}" for k, v in metrics.items() if k.startswith(("average", "R@", "Rsub"))))
                if score > best:
                    best, best_metrics = score, dict(metrics, best_epoch=float(epoch))
                    save_ern_weights(model, output_dir / CHECKPOINT_NAME[dataset])
            barrier()
    if is_main():
        tracker.write_metrics(best_metrics, coverage={"train": train_coverage, "eval": val_coverage})
    tracker.close()
    cleanup()
    return best_metrics or {}
