"""CLIP4Cir stage 1: fine-tune both CLIP encoders on a CIR training set (query = image + text sum).

query = normalize(f_img(ref) + f_txt(caption)), target = normalize(f_img(tgt)),
loss = CE(100 · query @ targetᵀ, arange(B)); AdamW(lr 2e-6, betas (0.9, 0.999), eps 1e-7,
weight decay 0.01); AMP on CUDA. Saves `{"epoch": e, "CLIP": state_dict}` atomically after every
epoch (the CLIP4Cir `tuned_clip_best.pt` format that FashionERN and SPIRIT load).

    python -m common.clip4cir.finetune --dataset fashioniq|shoes|cirr|fashion200k \
        --data-root datasets --clip-model-name RN50x4 [--clip-pretrained FILE] --output tuned_fashioniq.pt
"""
from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from common.checkpoint import save_atomic
from common.dist import rank0_print, seed_everything

LOGIT_SCALE = 100.0


@dataclass(frozen=True)
class Triplet:
    """One training example: reference image file, caption (or a caption drawn per epoch), target image file."""

    reference: Path
    caption: str | Callable[[random.Random], str]
    target: Path

    def text(self, rng: random.Random) -> str:
        return self.caption if isinstance(self.caption, str) else self.caption(rng)


class _TripletImages(torch.utils.data.Dataset):
    def __init__(self, triplets: Sequence[Triplet], preprocess: Callable[[Image.Image], torch.Tensor], seed: int):
        self.triplets, self.preprocess, self.seed, self.epoch = list(triplets), preprocess, seed, 0

    def __len__(self) -> int:
        return len(self.triplets)

    def _load(self, path: Path) -> torch.Tensor:
        with Image.open(path) as image:
            return self.preprocess(image.convert("RGB"))

    def __getitem__(self, i: int):
        triplet = self.triplets[i]
        rng = random.Random(hash((self.seed, self.epoch, i)))
        return self._load(triplet.reference), triplet.text(rng), self._load(triplet.target)


def clip_state_dict(backbone: nn.Module) -> dict[str, torch.Tensor]:
    """State dict of the CLIP inside a `ClipBackbone` (its backend's own key names)."""
    inner = getattr(backbone, "model", backbone)
    return {k: v.detach().cpu() for k, v in inner.state_dict().items()}


def sum_fusion_loss(backbone: nn.Module, ref: torch.Tensor, ids: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """The CLIP4Cir stage-1 loss on one batch."""
    query = F.normalize(backbone.encode_image(ref) + backbone.encode_text(ids), dim=-1)
    target = F.normalize(backbone.encode_image(tgt), dim=-1)
    logits = LOGIT_SCALE * query @ target.t()
    return F.cross_entropy(logits, torch.arange(ref.shape[0], device=ref.device))


def finetune_clip(backbone: nn.Module, triplets: Sequence[Triplet], output: str | Path, num_epochs: int = 100,
                  batch_size: int = 128, lr: float = 2e-6, seed: int = 0, num_workers: int = 0,
                  device: str | torch.device = "cpu") -> list[float]:
    """Fine-tune `backbone` in place; save `{"epoch", "CLIP"}` to `output` after every epoch. Returns mean losses."""
    if not triplets:
        raise ValueError("finetune_clip: no training triplets")
    device = torch.device(device)
    seed_everything(seed)
    backbone.to(device).train()
    dataset = _TripletImages(triplets, backbone.preprocess, seed)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) > batch_size,
                                         num_workers=num_workers, generator=generator)
    optimizer = torch.optim.AdamW([p for p in backbone.parameters() if p.requires_grad],
                                  lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.01)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history = []
    for epoch in range(num_epochs):
        dataset.epoch = epoch
        total, steps = 0.0, 0
        for ref, captions, tgt in loader:
            ids = backbone.tokenize(list(captions)).to(device)
            with torch.autocast(device_type=device.type, enabled=use_amp):
                loss = sum_fusion_loss(backbone, ref.to(device), ids, tgt.to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, steps = total + loss.item(), steps + 1
        history.append(total / max(steps, 1))
        rank0_print(f"[clip4cir] epoch {epoch}: loss {history[-1]:.4f}")
        save_atomic({"epoch": epoch, "CLIP": clip_state_dict(backbone)}, output)
    return history


def training_triplets(dataset: str, data_root: str | Path, seed: int = 0) -> list[Triplet]:
    """Stage-1 training triplets of a benchmark (FashionIQ captions are re-drawn every epoch by the training rule)."""
    from common.data import CIRR, FashionIQ, fiq_caption
    from common.data.fashion200k import Fashion200k
    from common.data.shoes import Shoes

    root = Path(data_root)
    if dataset == "fashioniq":
        reader = FashionIQ(root / "fashion-iq", "train")

        def drawn(c1: str, c2: str) -> Callable[[random.Random], str]:
            return lambda rng: fiq_caption(c1, c2, "train", rng)

        return [Triplet(reader.image_path(t.candidate), drawn(*t.captions), reader.image_path(t.target))
                for t in reader.triplets]
    if dataset == "shoes":
        reader = Shoes(root / "shoes", "train")
        return [Triplet(reader.image_path(t.reference), t.caption, reader.image_path(t.target)) for t in reader.queries]
    if dataset == "cirr":
        reader = CIRR(root / "cirr_dataset", "train")
        return [Triplet(reader.image_path(t.reference), t.caption, reader.image_path(t.target)) for t in reader.queries]
    if dataset == "fashion200k":
        reader = Fashion200k(root / "fashion200k", "train", seed=seed)
        return [Triplet(reader.image_path(p.reference), p.modifier, reader.image_path(p.target)) for p in reader.queries]
    raise ValueError(f"unknown dataset {dataset!r} (fashioniq, shoes, cirr, fashion200k)")


def main(argv: list[str] | None = None) -> None:
    from common.clip import load_clip

    parser = argparse.ArgumentParser(description="CLIP4Cir stage 1: fine-tune CLIP with the image+text sum")
    parser.add_argument("--dataset", required=True, choices=("fashioniq", "shoes", "cirr", "fashion200k"))
    parser.add_argument("--data-root", default="datasets")
    parser.add_argument("--clip-model-name", default="RN50x4")
    parser.add_argument("--clip-pretrained", default=None, help="local weights of the CLIP to start from")
    parser.add_argument("--output", required=True, help="the {'epoch', 'CLIP'} file to write")
    parser.add_argument("--num-epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-6)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    backbone = load_clip(args.clip_model_name, pretrained=args.clip_pretrained, device=args.device).float()
    triplets = training_triplets(args.dataset, args.data_root, args.seed)
    finetune_clip(backbone, triplets, args.output, args.num_epochs, args.batch_size, args.lr, args.seed,
                  args.num_workers, args.device)


if __name__ == "__main__":
    main()
