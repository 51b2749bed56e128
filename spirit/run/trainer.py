"""SPIRIT's training loop over cached frozen-CLIP features (DDP-ready, per-process in-batch negatives)."""
import copy
import random
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common.checkpoint import load_checkpoint, resume_position, save_atomic
from common.dist import DistInfo, barrier, distributed_sampler, gather_object, rank0_print, wrap_ddp
from common.tracking import RunTracker
from spirit.dataloader.image_features import ImageFeatures
from spirit.dataloader.records import TrainSet
from spirit.dataloader.text_features import TextFeatureCache
from spirit.losses.loss import batch_based_classification_loss
from spirit.models import SPIRIT
from spirit.models.checkpoint import save_spirit

Validate = Callable[[SPIRIT], dict[str, float]]


def per_process_batch(global_batch: int, world_size: int, num_triplets: int) -> int:
    """Split the global batch over processes; each process needs >= 2 samples (BatchNorm) and one full batch."""
    per_process = global_batch // world_size
    if per_process < 2:
        raise ValueError(f"--batch-size {global_batch} over {world_size} processes leaves {per_process} per process; need >= 2")
    if num_triplets // world_size < per_process:
        raise ValueError(f"--batch-size {global_batch}: only {num_triplets} training triplets; lower the batch size")
    return per_process


RESUME_FILE = "resume_latest.pt"
RESUME_KEYS = ("model", "optimizer", "scheduler", "scaler", "step", "best_metrics", "best_epoch", "best_model", "rng")


def _rng_states(caption_rng: random.Random) -> list:
    """Every process's (torch CPU RNG, caption RNG, CUDA RNG or None) state, in rank order (dropout, caption draws)."""
    cuda = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
    return gather_object((torch.get_rng_state(), caption_rng.getstate(), cuda))


def resume_path(args: Namespace, out_dir: Path) -> Path | None:
    """`--resume-from-checkpoint`: 'latest' (the run folder's resume file) or a file; None to start afresh."""
    value = getattr(args, "resume_from_checkpoint", None)
    return None if value is None else out_dir / RESUME_FILE if value == "latest" else Path(value)


def train(model: SPIRIT, model_config: dict, train_set: TrainSet, features: ImageFeatures, texts: TextFeatureCache,
          args: Namespace, info: DistInfo, tracker: RunTracker, checkpoint_stem: str,
          validate: Validate | None = None) -> tuple[dict[str, float], int]:
    """Train for `args.num_epochs`; with `validate`, keep the best epoch by its "avg". Returns (best metrics, best epoch).

    Without `validate` (Fashion200k) the last epoch is returned with its mean training loss.
    """
    device = next(model.parameters()).device  # where the pipeline put it (--device), not the process default
    triplets = train_set.triplets
    batch = per_process_batch(args.batch_size, info.world_size, len(triplets))
    sampler = distributed_sampler(range(len(triplets)), shuffle=True, seed=args.seed)
    # own generator: starting an epoch's iterator must not draw from the global RNG that drives dropout
    loader = DataLoader(range(len(triplets)), batch_size=batch, sampler=sampler, drop_last=True,
                        generator=torch.Generator().manual_seed(args.seed))
    ddp_model = wrap_ddp(model, find_unused_parameters=model.combiner.sa_gate == "original")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.combiner_lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.cosine_epochs * len(loader))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    caption_rng = random.Random(args.seed * 1000 + info.rank)
    out_dir = Path(tracker.output_dir)
    best_metrics, best_epoch, step, best_state = {}, -1, 0, None
    resumed_epoch, resumed_loss_sum, epoch, loss_sum = None, 0.0, 0, 0.0
    resume = resume_path(args, out_dir)
    if resume is not None:
        state = load_checkpoint(resume)
        absent = [k for k in RESUME_KEYS if not isinstance(state, dict) or k not in state]
        if absent:
            raise ValueError(f"{resume}: {absent[0]}: missing; not a SPIRIT resume file (written by "
                             f"--checkpointing-steps as {RESUME_FILE})")
        model.load_state_dict(state["model"])
        for part, saved in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
            part.load_state_dict(state[saved])
        best_metrics, best_epoch, step = state["best_metrics"], state["best_epoch"], int(state["step"])
        best_state = state["best_model"]
        if validate is not None and best_state is not None and info.is_main:
            best_model = copy.deepcopy(model)
            best_model.load_state_dict(best_state)
            validate(best_model)  # the validator again holds the best epoch's rankings (for the viewer)
        torch_state, caption_state, *cuda_state = state["rng"][info.rank]  # files before the CUDA state: 2 items
        torch.set_rng_state(torch_state)
        caption_rng.setstate(caption_state)
        if cuda_state and cuda_state[0] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(cuda_state[0])
        if "epoch" in state:  # with its running loss; files of older versions have neither
            resumed_epoch, resumed_loss_sum = int(state["epoch"]), float(state["epoch_loss_sum"])
        rank0_print(f"resumed from {resume} at step {step}")

    def save_resume_state() -> None:
        rng = _rng_states(caption_rng)  # a collective: every rank takes part
        if info.is_main:
            save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "step": step,
                         "best_metrics": best_metrics, "best_epoch": best_epoch, "best_model": best_state, "rng": rng,
                         "epoch": epoch, "epoch_loss_sum": loss_sum},
                        out_dir / RESUME_FILE)

    texts(train_set.all_texts())  # up front, in a fixed order: features do not depend on batching or resumption
    first_epoch, skip = resume_position(resume, step, len(loader), resumed_epoch)
    for epoch in range(first_epoch, args.num_epochs):
        sampler.set_epoch(epoch)
        ddp_model.train()
        loss_sum = resumed_loss_sum if epoch == first_epoch else 0.0
        for it, idx in enumerate(loader):
            if epoch == first_epoch and it < skip:
                continue
            chosen = [triplets[i] for i in idx.tolist()]
            ref_g, ref_p = features.select([t.reference for t in chosen])
            tgt_g, tgt_p = features.select([t.target for t in chosen])
            text = texts([train_set.compose(t.captions, caption_rng) for t in chosen])
            with torch.autocast(device_type=device.type, enabled=use_amp):
                logits = ddp_model(ref_g.to(device), text.to(device), ref_p.to(device), tgt_g.to(device), tgt_p.to(device))
                loss = batch_based_classification_loss(logits.float())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += loss.item()
            tracker.log_scalar("train/loss", loss.item(), step)
            step += 1
            if args.checkpointing_steps and step % args.checkpointing_steps == 0:
                save_resume_state()
            if it % args.print_frequency == 0 or it == len(loader) - 1:
                rank0_print(f"Train Epoch: [{epoch}][{it}/{len(loader)}]\tLoss {loss.item():.4f} ({loss_sum / (it + 1):.4f})")
        epoch_loss = loss_sum / len(loader)
        is_last = epoch == args.num_epochs - 1
        if validate is None:
            best_metrics, best_epoch = {"train_loss": epoch_loss}, epoch
            if args.save_training and info.is_main and (is_last or not args.save_best):
                save_spirit(model, model_config, out_dir / f"{checkpoint_stem}-e{epoch}.pt", epoch=epoch)
            continue
        if (epoch + 1) % args.validation_frequency and not is_last:
            continue
        if info.is_main:
            metrics = validate(model)
            tracker.log_scalars(metrics, epoch, prefix="val/")
            improved = metrics["avg"] > best_metrics.get("avg", float("-inf"))
            rank0_print(f"epoch {epoch}: " + "  ".join(f"{k} {v:.2f}" for k, v in metrics.items() if k.startswith(("average", "R", "avg")))
                        + ("  (best)" if improved else f"  best avg {best_metrics.get('avg', 0):.2f} @ {best_epoch}"))
            if improved:
                best_metrics, best_epoch = metrics, epoch
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if args.save_training and improved:
                save_spirit(model, model_config, out_dir / f"{checkpoint_stem}-best.pt", epoch=epoch, metrics=metrics)
            if args.save_training and not args.save_best:
                save_spirit(model, model_config, out_dir / f"{checkpoint_stem}-e{epoch}.pt", epoch=epoch, metrics=metrics)
        barrier()
    save_resume_state()
    return best_metrics, best_epoch
