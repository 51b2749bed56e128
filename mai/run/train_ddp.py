"""Train MAI on FashionMT (original `src/train_ddp.py`): all turns per step, CCL, AdamW + OneCycle, DDP over torchrun."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common.checkpoint import load_checkpoint, resume_position, save_atomic, unwrap_model
from common.dist import (barrier, cleanup, distributed_sampler, init_distributed, is_main, rank0_print,
                         resolve_device, seed_everything, wrap_ddp)
from common.tracking import RunTracker
from mai.dataloader.fashionmt import (DATASETS, IMAGE_KEYS, ImageTokens, SessionDataset, collate_sessions,
                                      open_fashionmt, vocabulary_texts)
from mai.models.multi_turn import MultiTurnObjective
from mai.run.builders import (add_model_args, build_image_encoder, build_model, build_tokenizer, save_mai_checkpoint,
                              stage1_folder)
from mai.run.evaluation import PROTOCOL, evaluate_fashionmt


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fc", choices=sorted(DATASETS),
                   help="fc/fiq: combination; 200k/shoes: rollback; fc-st/200k-st: single turn ref->tar1")
    p.add_argument("--num-epochs", type=int, default=50)
    p.add_argument("--learning-rate", type=float, default=1e-5)
    p.add_argument("--batch-size", type=int, default=32, help="per process, as the original")
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--validation-frequency", type=int, default=1, help="validate and save every N epochs")
    p.add_argument("--blip-model-name", default="blip2_cir_align_prompt", choices=("blip2_cir_align_prompt",))
    p.add_argument("--data-root", default="datasets/synthetic")
    p.add_argument("--output-dir", default="outputs/mai/train")
    p.add_argument("--cache-dir", default=None, help="frozen image-token cache (default <data-root>/.cache/mai)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--checkpointing-steps", type=int, default=None,
                   help="save the resume state (resume_latest.pt) every N optimizer steps")
    p.add_argument("--resume-from-checkpoint", default=None,
                   help="'latest' (<output-dir>/resume_latest.pt) or a resume file: continue an interrupted run exactly")
    p.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK if available, else cpu")
    add_model_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    info = init_distributed()
    device = resolve_device(args.device, info)
    seed_everything(args.seed, info.rank)
    out = Path(args.output_dir)
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.data_root) / ".cache" / "mai"
    reader, regime, history = open_fashionmt(args.data_root, args.dataset, "train")
    val_reader, _, _ = open_fashionmt(args.data_root, args.dataset, "test")
    encoder = build_image_encoder(args, device)
    if not is_main():
        barrier()  # rank 0 fills the token cache and builds the stage-1 Q-Former first
    train_tokens = ImageTokens(encoder, [n for s in reader.queries for n in s.images], reader.image_path, cache_dir)
    stage1 = stage1_folder(args, encoder)
    if is_main():
        barrier()
    tokenizer, vocab_file = build_tokenizer(args.vocab, vocabulary_texts(reader.queries), out, stage1)
    torch.manual_seed(args.seed)  # the initial weights must not depend on whether the caches existed
    model = build_model(args, tokenizer, encoder.width, stage1).to(device)
    objective = wrap_ddp(MultiTurnObjective(model, regime, history), find_unused_parameters=True)
    dataset = SessionDataset(reader.queries, train=True, seed=args.seed + info.rank)
    sampler = distributed_sampler(dataset, shuffle=True, seed=args.seed, drop_last=True)
    # own generator: starting an epoch must not draw from the global RNG that seeds each step
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                        num_workers=args.num_workers, collate_fn=collate_sessions,
                        generator=torch.Generator().manual_seed(args.seed))
    if len(loader) == 0:
        raise ValueError(f"{reader.session_file}: {len(dataset)} sessions over {info.world_size} processes give no "
                         f"full batch of --batch-size {args.batch_size}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, betas=(0.9, 0.98), eps=1e-7, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.learning_rate, pct_start=min(1.5 / args.num_epochs, 0.3), div_factor=100,
        steps_per_epoch=len(loader), epochs=args.num_epochs)
    tracker = RunTracker(out, method="mai", dataset=f"FashionMT/{args.dataset}", split="test", protocol=PROTOCOL,
                         config=vars(args), variant=args.dataset)
    rank0_print(f"MAI {args.dataset} ({regime}): {len(dataset)} sessions, {len(loader)} steps/epoch, "
                f"{sum(p.numel() for p in params):,} trainable parameters, world {info.world_size}")
    metrics: dict[str, float] = {}
    step, last_loss = 0, float("nan")
    use_amp = device.type == "cuda"  # as the original: autocast + GradScaler on the GPU
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    resume_path = out / "resume_latest.pt" if args.resume_from_checkpoint == "latest" else args.resume_from_checkpoint
    if resume_path is not None:
        state = load_checkpoint(resume_path)
        unwrap_model(objective).load_state_dict(state["objective"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, metrics = int(state["step"]), state["metrics"]
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        rank0_print(f"resumed from {resume_path} at step {step}")
    saved_epoch = state.get("epoch") if resume_path is not None else None
    first_epoch, skip = resume_position(resume_path, step, len(loader), saved_epoch)
    if saved_epoch is not None:
        last_loss = float(state["last_loss"])
    for epoch in range(first_epoch, args.num_epochs):
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        objective.train()
        for i, batch in enumerate(tracker.progress(loader, desc=f"epoch {epoch}")):
            if epoch == first_epoch and i < skip:
                continue
            torch.manual_seed(args.seed * 1_000_003 + step * 97 + info.rank)  # dropout: a function of the step
            tokens = {k: train_tokens(batch[k], device) for k in (*IMAGE_KEYS, "back")}
            with torch.autocast(device.type, enabled=use_amp):
                losses = objective(tokens, batch)
                loss = sum(losses.values())
            last_loss = loss.item()
            if not math.isfinite(last_loss):
                raise FloatingPointError(f"MAI: non-finite loss at epoch {epoch} step {step}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            tracker.log_scalar("train/loss", last_loss, step)
            tracker.log_scalar("train/lr", scheduler.get_last_lr()[0], step)
            step += 1
            if args.checkpointing_steps and step % args.checkpointing_steps == 0 and is_main():
                save_atomic({"objective": unwrap_model(objective).state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "step": step,
                             "epoch": epoch, "last_loss": last_loss, "metrics": metrics}, out / "resume_latest.pt")
        last = epoch == args.num_epochs - 1
        if (epoch + 1) % max(args.validation_frequency, 1) == 0 or last:
            if is_main():
                name = "last.pth" if last else f"epoch{epoch}.pth"
                save_mai_checkpoint(out / name, unwrap_model(objective).model, epoch, args, vocab_file)
                metrics = evaluate_fashionmt(unwrap_model(objective).model, encoder, val_reader, regime, history,
                                             cache_dir, predictions_dir=out if last else None)
                tracker.log_scalars(metrics, epoch, prefix="val/")
                rank0_print(f"epoch {epoch}: loss {last_loss:.4f} " +
                            " ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
            barrier()
    if is_main():
        tracker.write_metrics(metrics)
    tracker.close()
    cleanup()
    return metrics


if __name__ == "__main__":
    main()
