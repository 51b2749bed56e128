"""Train FTI4CIR on ImageNet-test images with BLIP subject/attribute captions (frozen CLIP, cached features).

    python fti4cir/run/train.py --ImageNetPath /data/ImageNet --imgCaptionPath blip_pairs.json \\
        --clip_model_name ViT-L/14 --output-dir outputs/fti4cir/train
    torchrun --nproc_per_node=2 fti4cir/run/train.py ...   (--batch_size is the global batch)
    ... --checkpointing_steps 500, after an interruption: ... --resume_from_checkpoint latest
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import load_resume, resume_position, rng_state, save_atomic, save_resume, write_json_atomic
from common.data import ImageNetCaptions, check_coverage
from common.dist import (SkippingSampler, all_gather_with_grad, barrier, cleanup, distributed_sampler, gather_object,
                         get_world_size, init_distributed, is_main, rank0_print, resolve_device, seed_everything,
                         wrap_ddp)
from common.tracking import RunTracker
from fti4cir.dataloader.features import RandomView, image_features
from fti4cir.dataloader.imagenet_pairs import PairFeatures
from fti4cir.losses.fti_losses import fti4cir_loss
from fti4cir.models.convert import checkpoint_payload
from fti4cir.models.fti_network import FTI4CIR, FTIConfig
from fti4cir.run.cli import add_backbone_args, feature_cache, frozen_backbone


RESUME_FILE = "resume_latest.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backbone_args(parser)
    parser.add_argument("--ImageNetPath", default=None, help="default <data-root>/imagenet")
    parser.add_argument("--imgCaptionPath", default=None, help="default <ImageNetPath>/blip_pairs.json")
    parser.add_argument("--model_dir", default=None, help="checkpoints go to <model_dir>/save_model (default: output dir)")
    parser.add_argument("--output-dir", default="outputs/fti4cir/train")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers (feature extraction and training)")
    parser.add_argument("--save_training", type=lambda s: s.lower() not in ("0", "false", "no"), default=True)
    parser.add_argument("--save_frequency", type=int, default=1, help="epochs between checkpoints")
    parser.add_argument("--batch_size", type=int, default=256, help="global batch (split over torchrun ranks)")
    parser.add_argument("--num_epochs", type=int, default=80)
    parser.add_argument("--tf_layer", type=int, default=3)
    parser.add_argument("--tf_head", type=int, default=1)
    parser.add_argument("--wd", type=float, default=0.01)
    parser.add_argument("--num_k", type=int, default=24)
    parser.add_argument("--topk", type=int, default=12)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--lr_decay", type=int, default=10, help="epoch at which the LR is multiplied by lr_div")
    parser.add_argument("--lr_div", type=float, default=0.1)
    parser.add_argument("--hy_regLoss", type=float, default=1.40)
    parser.add_argument("--temperature", type=float, default=0.20)
    parser.add_argument("--phi_dropout", type=float, default=0.5)
    parser.add_argument("--augment_views", type=int, default=0,
                        help="extra augmented views per image (crop + flip, cached features); each item draws one of "
                             "the 1 + N views per epoch. 0 = the original (no augmentation)")
    parser.add_argument("--checkpointing_steps", type=int, default=None,
                        help=f"save the resume state (<model_dir>/save_model/{RESUME_FILE}) every N optimizer steps")
    parser.add_argument("--resume_from_checkpoint", default=None,
                        help="'latest' (that file) or a resume file: continue an interrupted run exactly")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision (default: on with CUDA, off on CPU)")
    for unused in ("--optimizer", "--eps", "--pre_dataset", "--validation_frequency"):
        parser.add_argument(unused, default=None, help="parsed but unused, as in the original")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    info = init_distributed()
    seed_everything(args.seed, info.rank)
    device = resolve_device(args.device, info)
    world = get_world_size()
    if args.batch_size % world:
        raise ValueError(f"--batch_size {args.batch_size} is not divisible by the {world} processes")
    imagenet = Path(args.ImageNetPath or Path(args.data_root) / "imagenet")
    reader = ImageNetCaptions(imagenet, "test", args.imgCaptionPath)
    check_coverage(reader, allow_partial=False)
    pairs = reader.queries
    output_dir = Path(args.output_dir)
    model_dir = Path(args.model_dir or output_dir)
    backbone, transform, transform_id = frozen_backbone(args, device)
    tracker = RunTracker(output_dir, "fti4cir", "imagenet", "test", "fti4cir.train", vars(args))

    names = reader.gallery()
    views = [None] + [RandomView(args.seed, v) for v in range(1, args.augment_views + 1)]
    if is_main():  # rank 0 fills the feature cache, the others then read it
        for view in views:
            image_features(backbone, names, reader.image_path, transform, transform_id, feature_cache(args),
                           num_workers=args.num_workers, progress=tracker.progress, view=view)
    barrier()
    features = [image_features(backbone, names, reader.image_path, transform, transform_id, feature_cache(args),
                               view=view, mmap_patches=True) for view in views]
    dataset = PairFeatures(pairs, names, torch.stack([g for g, _ in features]), [p for _, p in features], seed=args.seed)
    sampler = SkippingSampler(distributed_sampler(dataset, shuffle=True, seed=args.seed, drop_last=True))
    per_process = args.batch_size // world
    # own generator: starting an epoch's iterator must not draw from the global RNG that drives dropout
    loader = torch.utils.data.DataLoader(dataset, batch_size=per_process, sampler=sampler, drop_last=True,
                                         num_workers=args.num_workers, collate_fn=PairFeatures.collate,
                                         generator=torch.Generator().manual_seed(args.seed))
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError(f"{len(dataset)} training pairs give no full batch of {args.batch_size}")

    config = FTIConfig(patch_dim=backbone.vision_width, embed_dim=backbone.embed_dim, token_dim=backbone.text_width,
                       num_k=args.num_k, topk=args.topk, epsilon=args.epsilon, tf_layer=args.tf_layer,
                       tf_head=args.tf_head, phi_dropout=args.phi_dropout)
    # seeded again here: a cold feature cache draws from the RNG (its DataLoaders), a warm one does not, and the
    # initial weights and the dropout stream must not depend on that
    seed_everything(args.seed, info.rank)
    model = FTI4CIR(config).to(device)
    model_ddp = wrap_ddp(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    amp = device.type == "cuda" if args.amp is None else args.amp
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    resume_file = model_dir / "save_model" / RESUME_FILE
    step, last, resumed_sums, first_epoch, skip = 0, {}, {}, 0, 0
    if args.resume_from_checkpoint is not None:
        path = resume_file if args.resume_from_checkpoint == "latest" else Path(args.resume_from_checkpoint)
        state = load_resume(path, model, optimizer, scaler=scaler, rank=info.rank)
        if "epoch_loss_sums" not in state.extra:
            raise ValueError(f"{path}: extra.epoch_loss_sums: missing; not an FTI4CIR resume file "
                             f"(written by --checkpointing_steps as {RESUME_FILE})")
        step, resumed_sums = state.step, state.extra["epoch_loss_sums"]
        first_epoch, skip = resume_position(path, step, steps_per_epoch, state.epoch)
        rank0_print(f"resumed from {path} at step {step}")
    if is_main():
        model_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(vars(args), model_dir / "hyperparameters.json", sort_keys=True, indent=4)
    for epoch in range(first_epoch, args.num_epochs):
        for group in optimizer.param_groups:  # a function of the epoch, so a resumed run gets it right too
            group["lr"] = args.lr * args.lr_div if epoch >= args.lr_decay else args.lr
        sampler.set_epoch(epoch, skip=skip * per_process if epoch == first_epoch else 0)  # batches done before
        dataset.set_epoch(epoch)
        model_ddp.train()
        totals: dict[str, float] = dict(resumed_sums) if epoch == first_epoch else {}
        for g, p, subjects, attributes in tracker.progress(loader, desc=f"epoch {epoch}"):
            g, p = g.to(device), p.to(device)
            with torch.autocast(device.type, enabled=amp):
                words = model_ddp(g, p)
                losses = fti4cir_loss(backbone, words, g, subjects, attributes, args.temperature, args.hy_regLoss,
                                      gather=all_gather_with_grad)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(losses["loss"]).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach())
            tracker.log_scalars({k: float(v.detach()) for k, v in losses.items()}, step, prefix="train/")
            if args.checkpointing_steps and step % args.checkpointing_steps == 0:
                rng_states = gather_object(rng_state())  # a collective: every rank takes part
                if is_main():
                    save_resume(resume_file, model, optimizer, scaler=scaler, epoch=epoch, step=step,
                                extra={"epoch_loss_sums": totals}, rng_states=rng_states)
        last = {f"{k}": v / steps_per_epoch for k, v in totals.items()}
        rank0_print(f"epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
        if is_main() and args.save_training and (epoch % args.save_frequency == 0 or epoch == args.num_epochs - 1):
            payload = checkpoint_payload(model, epoch=epoch, clip_model_name=args.clip_model_name)
            save_atomic(payload, model_dir / "save_model" / f"model_{epoch}.pt")
            save_atomic(payload, model_dir / "save_model" / "model_last.pt")
    metrics = {f"final_{k}": v for k, v in last.items()} | {"steps": float(step), "pairs": float(len(dataset))}
    tracker.write_metrics(metrics)
    tracker.close()
    cleanup()
    return metrics


if __name__ == "__main__":
    main()
