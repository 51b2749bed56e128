"""What a trained Phi carries on the embedded default: feature norms, train vs held-out loss, pseudo-token retrieval.

Held-out data come from the synthetic generator's own functions on a random stream no benchmark file uses:
captions (`varied_caption`) for the loss, and two renders of each of `--garments` garments for retrieval. The
pseudo token alone (`"a photo of $"`, Phi of the first render's image feature) must find the second render of the
same garment; the image feature itself and the garment's canonical caption are the references.

    python lincir/diagnose.py --phi-checkpoint-name outputs/runs/lincir/train/checkpoints/phi_best.pt --l2_normalize
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common.clip import load_clip
from common.synthetic.attributes import CATEGORIES, Garment, random_garment
from common.synthetic.captions import canonical_caption, varied_caption
from common.synthetic.render import render_garment
from lincir.dataloader.captions import CaptionDataset, read_captions
from lincir.losses.lincir_loss import add_scaled_noise, lincir_loss
from lincir.models.phi import build_phi, load_phi
from lincir.utils import trim_to_eot

STREAM = 0x11AC1  # first entropy word of the held-out stream; the benchmark draws from [seed, dataset index < 9]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phi-checkpoint-name", required=True)
    p.add_argument("--clip_model_name", default="synthetic-tiny")
    p.add_argument("--clip_pretrained", default=None)
    p.add_argument("--l2_normalize", action="store_true")
    p.add_argument("--data-root", default="datasets/synthetic", help="its corpus/ is the training corpus")
    p.add_argument("--captions", type=int, default=600, help="train and held-out captions for the loss")
    p.add_argument("--garments", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def garment_agreement(query: torch.Tensor, gallery: torch.Tensor, garments: Sequence[Garment]) -> dict[str, float]:
    """% of queries whose top-1 gallery image is the same garment, and has the same category / colour / pattern."""
    top = (F.normalize(query, dim=-1) @ F.normalize(gallery, dim=-1).T).argmax(1).tolist()
    pairs = [(garments[i], garments[t]) for i, t in enumerate(top)]
    same = {"garment R@1": lambda a, b: a == b, "category": lambda a, b: a.category == b.category,
            "color": lambda a, b: a.get("color") == b.get("color"),
            "pattern": lambda a, b: a.get("pattern") == b.get("pattern")}
    return {name: 100.0 * float(np.mean([test(a, b) for a, b in pairs])) for name, test in same.items()}


@torch.no_grad()
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    clip = load_clip(args.clip_model_name, pretrained=args.clip_pretrained).eval()
    phi = build_phi(clip.embed_dim, clip.text_width)
    step = load_phi(args.phi_checkpoint_name, phi)
    phi.eval()

    def pseudo(x: torch.Tensor) -> torch.Tensor:
        return phi(F.normalize(x, dim=-1) if args.l2_normalize else x)

    rng = np.random.default_rng([STREAM, args.seed])
    corpus = read_captions([f"{args.data_root}/corpus"])
    heldout = [varied_caption(random_garment(rng, tuple(CATEGORIES)), rng) for _ in range(args.captions)]
    report: dict = {"checkpoint": str(args.phi_checkpoint_name), "step": step, "l2_normalize": args.l2_normalize,
                    "heldout_captions_in_corpus_%": 100.0 * float(np.mean([c in set(corpus) for c in heldout]))}
    noise = torch.Generator().manual_seed(args.seed)
    for name, captions in (("train", corpus[:args.captions]), ("heldout", heldout)):
        ds = CaptionDataset(captions, clip.tokenize, clip.placeholder_id("$"), seed=args.seed)
        orig, masked = (trim_to_eot(torch.stack([ds[i][k] for i in range(len(ds))])) for k in (0, 1))
        target = clip.encode_text(orig)
        for kind, x in (("clean", target), ("noisy", add_scaled_noise(target, noise))):
            rep = clip.encode_text_with_pseudo_tokens(masked, pseudo(x), placeholder="$")
            report[f"mse_{name}_{kind}"] = lincir_loss(rep, target).item()
        if name == "train":
            report["text_norm"] = [target.norm(dim=-1).mean().item(), target.norm(dim=-1).std().item()]

    garments = [random_garment(rng, tuple(CATEGORIES)) for _ in range(args.garments)]

    def images() -> torch.Tensor:
        batch = [clip.preprocess(Image.fromarray(render_garment(g, rng)[0])) for g in garments]
        return clip.encode_image(torch.stack(batch)).float()

    first, second = images(), images()
    report["image_norm"] = [first.norm(dim=-1).mean().item(), first.norm(dim=-1).std().item()]
    captions = clip.encode_text(trim_to_eot(clip.tokenize([canonical_caption(g) for g in garments])))
    prompt = trim_to_eot(clip.tokenize(["a photo of $"] * len(garments)))
    report["retrieval"] = {
        "image feature": garment_agreement(first, second, garments),
        "canonical caption": garment_agreement(captions, second, garments),
        "pseudo token of the image": garment_agreement(
            clip.encode_text_with_pseudo_tokens(prompt, pseudo(first), placeholder="$"), second, garments),
        "pseudo token of the caption": garment_agreement(
            clip.encode_text_with_pseudo_tokens(prompt, pseudo(captions), placeholder="$"), second, garments)}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
