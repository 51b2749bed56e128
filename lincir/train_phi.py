"""Train LinCIR's Phi on text only (self-masking projection + noise), selecting the best step by CIRR-val R@1."""
from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common import dist
from common.checkpoint import load_checkpoint, save_atomic
from common.clip import load_clip
from common.clip.tokenizer import tokenize
from common.tracking import RunTracker
from lincir.dataloader.captions import CaptionDataset, read_captions
from lincir.losses.lincir_loss import add_scaled_noise, lincir_loss
from lincir.models.ema import EMAModel
from lincir.models.phi import Phi, build_phi, load_phi
from lincir.utils import PhiQueryEncoder, evaluate, trim_to_eot


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    # the original's flags
    p.add_argument("--output_dir", "--output-dir", dest="output_dir", default="outputs/lincir/train")
    p.add_argument("--logging_dir", default="logs", help="parsed, unused: tensorboard events go to --output_dir")
    p.add_argument("--cache_dir", default=None, help="HF cache of the large/huge/giga backbones and of HF datasets")
    p.add_argument("--report_to", default="tensorboard", choices=["tensorboard"])
    p.add_argument("--clip_model_name", default="giga")
    p.add_argument("--clip_pretrained", default=None, help="local weights file/folder of the backbone")
    p.add_argument("--cirr_dataset_path", default=None, help="CIRR root for validation (default <data-root>/cirr_dataset)")
    p.add_argument("--resume", default=None, help="a phi checkpoint ({'Phi': ...}) to start from")
    p.add_argument("--lr_scheduler", default="constant",
                   choices=["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"])
    p.add_argument("--lr_warmup_steps", type=int, default=500)
    p.add_argument("--max_train_steps", type=int, default=50000)
    p.add_argument("--phi_dropout", type=float, default=0.5)
    p.add_argument("--l2_normalize", action="store_true")
    p.add_argument("--batch_size", type=int, default=256, help="per process")
    p.add_argument("--num_workers", type=int, default=0)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--gradient_accumulation_steps", type=int, default=1)
    p.add_argument("--max_grad_norm", type=float, default=None)
    p.add_argument("--mixed_precision", default=None, choices=[None, "no", "fp16", "bf16"])
    p.add_argument("--validation_steps", type=int, default=None)
    p.add_argument("--checkpointing_steps", type=int, default=None)
    p.add_argument("--use_ema", action="store_true")
    p.add_argument("--seed", type=int, default=None)
    # ours
    p.add_argument("--data-root", dest="data_root", default="datasets")
    p.add_argument("--corpus", nargs="*", default=None,
                   help="caption files (txt/jsonl/csv/parquet) or cached HF dataset names; default <data-root>/corpus")
    p.add_argument("--resume_from_checkpoint", default=None,
                   help="'latest' or a resume_*.pt: continue an interrupted run exactly")
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def _autocast(device: torch.device, mixed_precision: str | None):
    if mixed_precision in (None, "no"):
        return torch.autocast(device.type, enabled=False)
    if mixed_precision == "fp16" and device.type != "cuda":
        raise ValueError("--mixed_precision fp16 needs CUDA; use bf16 on CPU")
    return torch.autocast(device.type, dtype=torch.float16 if mixed_precision == "fp16" else torch.bfloat16)


def _save_phi(phi: Phi, step: int, path: Path) -> None:
    save_atomic({"epoch": step, "Phi": phi.state_dict()}, path)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    info = dist.init_distributed()
    seed = 0 if args.seed is None else args.seed
    dist.seed_everything(seed, rank=info.rank)
    device = dist.resolve_device(args.device, info)
    out = Path(args.output_dir)
    ckpt_dir = out / "checkpoints"

    clip = load_clip(args.clip_model_name, pretrained=args.clip_pretrained, device=device, cache_dir=args.cache_dir)
    clip.eval().requires_grad_(False)
    phi = build_phi(clip.embed_dim, clip.text_width, args.phi_dropout).to(device)
    if args.resume:
        load_phi(args.resume, phi)
    ema = EMAModel(phi) if args.use_ema else None

    corpus = args.corpus or [str(Path(args.data_root) / "corpus")]
    captions = read_captions(corpus, cache_dir=args.cache_dir)
    # ids on the CPU: DataLoader workers must not touch CUDA; each step moves its batch to the device
    dataset = CaptionDataset(captions, functools.partial(tokenize, context_length=clip.context_length),
                             clip.placeholder_id("$"), seed=seed, context_length=clip.context_length)
    sampler = dist.SkippingSampler(dist.distributed_sampler(dataset, shuffle=True, seed=seed))
    # its own generator: starting an epoch must not draw from the global RNG that seeds each step's noise and
    # dropout, or a run resumed mid-epoch would differ from an uninterrupted one at its first step
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                        num_workers=args.num_workers, generator=torch.Generator().manual_seed(seed))
    if len(loader) == 0:
        raise ValueError(f"corpus {corpus}: {len(dataset)} captions < one batch of {args.batch_size} per process")

    optimizer = torch.optim.AdamW(phi.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    from diffusers.optimization import get_scheduler

    scheduler = get_scheduler(args.lr_scheduler, optimizer,
                              num_warmup_steps=args.lr_warmup_steps * args.gradient_accumulation_steps,
                              num_training_steps=args.max_train_steps * args.gradient_accumulation_steps)
    # fp16 needs loss scaling (the original's accelerate does it): the MSE gradients are below fp16's normal range
    scaler = torch.amp.GradScaler("cuda", enabled=args.mixed_precision == "fp16")
    step, best = 0, {"R@1": -1.0, "step": 0}
    resume_path = ckpt_dir / "resume_latest.pt" if args.resume_from_checkpoint == "latest" else (
        Path(args.resume_from_checkpoint) if args.resume_from_checkpoint else None)
    if resume_path is not None:
        state = load_checkpoint(resume_path)
        phi.load_state_dict(state["Phi"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best = int(state["step"]), state["best"]
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        dist.rank0_print(f"resumed from {resume_path} at step {step}")

    model = dist.wrap_ddp(phi)
    tracker = RunTracker(out, method="lincir", dataset="cirr", split="val", protocol="cirr.rc2", config=vars(args))
    cirr_root = args.cirr_dataset_path or str(Path(args.data_root) / "cirr_dataset")
    steps_per_epoch = len(loader)  # batches per epoch

    def validate() -> None:
        nonlocal best
        if not info.is_main:
            return
        eval_phi = phi
        if ema is not None:
            eval_phi = build_phi(clip.embed_dim, clip.text_width, 0.0).to(device)
            ema.copy_to(eval_phi)
        enc = PhiQueryEncoder(clip, eval_phi, args.l2_normalize, cache_dir=out / "feature_cache")
        metrics, _ = evaluate(enc, "cirr", cirr_root)
        for k, v in metrics.items():
            tracker.log_scalar(f"val/{k}", v, step)
        if metrics["R@1"] > best["R@1"]:
            best = {"R@1": metrics["R@1"], "step": step, "metrics": metrics}
            _save_phi(eval_phi, step, ckpt_dir / "phi_best.pt")
        dist.rank0_print(f"step {step}: CIRR val R@1 {metrics['R@1']:.2f} (best {best['R@1']:.2f} at {best['step']})")

    accum = args.gradient_accumulation_steps

    def batches_from(start_step: int):
        """The batches of every optimizer step from `start_step` on, the same as an uninterrupted run sees."""
        epoch, skip = divmod(start_step * accum, steps_per_epoch)
        while True:
            sampler.set_epoch(epoch, skip=skip * args.batch_size)  # the batches done before are not built again
            dataset.set_epoch(epoch)
            yield from loader
            epoch, skip = epoch + 1, 0

    def save_checkpoints() -> None:
        _save_phi(phi, step, ckpt_dir / f"phi_{step:09d}.pt")
        _save_phi(phi, step, ckpt_dir / "phi_latest.pt")
        resume = {"Phi": phi.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "step": step, "best": best}
        if ema is not None:
            ema_phi = build_phi(clip.embed_dim, clip.text_width, 0.0)
            ema.copy_to(ema_phi)
            _save_phi(ema_phi, step, ckpt_dir / f"ema_phi_{step:09d}.pt")
            _save_phi(ema_phi, step, ckpt_dir / "ema_phi_latest.pt")
            resume["ema"] = ema.state_dict()
        save_atomic(resume, ckpt_dir / "resume_latest.pt")

    phi.train()
    batches = batches_from(step)
    for _ in tracker.progress(range(step, args.max_train_steps), desc="lincir phi", total=args.max_train_steps,
                              initial=step):
        torch.manual_seed(seed * 1_000_003 + step * 97 + info.rank)  # noise and dropout: a function of the step
        total, rate = 0.0, 0.0
        for _micro in range(accum):
            orig_ids, masked_ids, indicator = next(batches)
            orig_ids, masked_ids = trim_to_eot(orig_ids.to(device)), trim_to_eot(masked_ids.to(device))
            with _autocast(device, args.mixed_precision):
                with torch.no_grad():
                    target = clip.encode_text(orig_ids)
                x = add_scaled_noise(target)
                if args.l2_normalize:
                    x = torch.nn.functional.normalize(x, dim=-1)
                reencoded = clip.encode_text_with_pseudo_tokens(masked_ids, model(x), placeholder="$", mode="all")
                loss = lincir_loss(reencoded, target) / accum
            scaler.scale(loss).backward()
            total += loss.item()
            rate += indicator.float().mean().item() / accum
        if not math.isfinite(total):
            raise FloatingPointError(f"step {step + 1}: loss is {total}")
        if args.max_grad_norm is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(phi.parameters(), args.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(phi)
        step += 1
        tracker.log_scalars({"loss": total, "preproc_rate": rate, "lr": scheduler.get_last_lr()[0]}, step, "train/")
        if step == 50 or (args.validation_steps and step % args.validation_steps == 0):
            validate()
            phi.train()
        if args.checkpointing_steps and step % args.checkpointing_steps == 0 and info.is_main:
            save_checkpoints()
    phi.eval()
    if step != 50 and not (args.validation_steps and step % args.validation_steps == 0):
        validate()
    if info.is_main:
        _save_phi(phi, step, ckpt_dir / "phi_latest.pt")
        tracker.write_metrics({**best.get("metrics", {}), "best_step": best["step"]})
    tracker.close()
    dist.cleanup()
    return best


if __name__ == "__main__":
    main(sys.argv[1:])
