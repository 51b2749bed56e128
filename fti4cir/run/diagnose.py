"""Probe a trained FTI4CIR: how well the image sentence inverts the image, NT-Xent vs its floor, r, and composition.

    python fti4cir/run/diagnose.py --clip_model_name synthetic-tiny --data-root datasets/synthetic \\
        --model_path out/train/save_model/model_last.pt --output-dir out/diagnose
Train = the ImageNet caption pairs; held-out = the CIRR val images and queries (never trained on). Writes metrics.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from common.data import CIRR, ImageNetCaptions
from common.dist import seed_everything
from common.tracking import RunTracker
from fti4cir.dataloader.features import image_features
from fti4cir.losses.fti_losses import nt_xent_loss
from fti4cir.models.convert import load_fti4cir
from fti4cir.models.prompts import caption_prompt, encode_composed_query, encode_image_sentence
from fti4cir.run.cli import add_backbone_args, feature_cache, frozen_backbone


def own_image_recall(queries: torch.Tensor, images: torch.Tensor) -> float:
    """% of rows whose own image (same row) is the most similar of `images`."""
    sims = F.normalize(queries, dim=-1) @ F.normalize(images, dim=-1).T
    return 100.0 * float((sims.argmax(1) == torch.arange(len(sims))).float().mean())


def batched_nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float, batch: int) -> float:
    """Mean NT-Xent over consecutive full batches (the training loss, evaluated without dropout)."""
    starts = range(0, len(a) - batch + 1, batch)
    return sum(float(nt_xent_loss(a[s:s + batch], b[s:s + batch], temperature)) for s in starts) / len(starts)


@torch.no_grad()
def image_sentences(backbone, model, global_feat, patches, chunk: int = 256
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(f = E_T("a photo of * with * ... *") [N, D], r [N], subject-token norms [N]), in chunks."""
    out = []
    for start in range(0, len(global_feat), chunk):
        words = model(global_feat[start:start + chunk], patches[start:start + chunk])
        out.append((encode_image_sentence(backbone, words), words.num_attributes, words.subject.norm(dim=-1)))
    return tuple(torch.cat(parts) for parts in zip(*out))


def inversion(backbone, model, global_feat, patches, temperature: float, batch: int) -> dict[str, float]:
    sentence, num_attributes, subject_norm = image_sentences(backbone, model, global_feat, patches)
    counts = torch.bincount(num_attributes, minlength=model.config.topk + 1)[1:]
    return {"cos_sentence_image": float(F.cosine_similarity(sentence, global_feat).mean()),
            "own_image_R@1": own_image_recall(sentence, global_feat),
            "nt_xent": batched_nt_xent(global_feat, sentence, temperature, batch),
            "nt_xent_floor": batched_nt_xent(global_feat, global_feat, temperature, batch),
            "r_mean": float(num_attributes.float().mean()),
            **{f"r={r + 1}_count": float(c) for r, c in enumerate(counts.tolist()) if c},
            "subject_token_norm": float(subject_norm.mean())}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_backbone_args(parser)
    parser.add_argument("--model_path", required=True)
    parser.add_argument("--temperature", type=float, default=0.20)
    parser.add_argument("--batch_size", type=int, default=64, help="NT-Xent batch")
    parser.add_argument("--num_pairs", type=int, default=1000, help="training pairs probed (the first N)")
    parser.add_argument("--output-dir", default="outputs/fti4cir/diagnose")
    args = parser.parse_args(argv)
    seed_everything(args.seed)
    backbone, transform, transform_id = frozen_backbone(args, "cpu")
    model = load_fti4cir(args.model_path, expected={"patch_dim": backbone.vision_width, "embed_dim": backbone.embed_dim,
                                                    "token_dim": backbone.text_width}).eval()
    tracker = RunTracker(args.output_dir, "fti4cir-diagnose", "imagenet+cirr", "train+val", "fti4cir.probe", vars(args),
                         tensorboard=False)
    cache = feature_cache(args)
    imagenet = ImageNetCaptions(Path(args.data_root) / "imagenet", "test")
    pairs = imagenet.queries[:args.num_pairs]
    names = sorted({q.image_id for q in pairs})
    g, p = image_features(backbone, names, imagenet.image_path, transform, transform_id, cache)
    index = {name: i for i, name in enumerate(names)}
    rows = torch.tensor([index[q.image_id] for q in pairs])
    g, p = g[rows], p[rows]
    metrics = {f"train_{k}": v for k, v in inversion(backbone, model, g, p, args.temperature, args.batch_size).items()}
    with torch.no_grad():
        captions = backbone.encode_text(backbone.tokenize([caption_prompt(q.subject, q.attribute) for q in pairs]))
    metrics["train_caption_prompt_own_image_R@1"] = own_image_recall(captions, g)

    cirr = CIRR(Path(args.data_root) / "cirr_dataset", "val")
    names = cirr.gallery()
    position = {n: i for i, n in enumerate(names)}
    g, p = image_features(backbone, names, cirr.image_path, transform, transform_id, cache)
    metrics.update({f"heldout_{k}": v for k, v in inversion(backbone, model, g, p, args.temperature,
                                                            args.batch_size).items()})
    with torch.no_grad():
        sentence = image_sentences(backbone, model, g, p)[0]
        groups = {tuple(position[m] for m in q.members) for q in cirr.queries}
        hits = [own_image_recall(sentence[list(group)], g[list(group)]) for group in groups]
        metrics["heldout_own_image_in_group_R@1"] = sum(hits) / len(hits)
        ref = torch.tensor([position[q.reference] for q in cirr.queries])
        target = torch.tensor([position[q.target] for q in cirr.queries])
        texts = [q.caption for q in cirr.queries]
        shuffled = [texts[i] for i in torch.randperm(len(texts)).tolist()]
        words = model(g[ref], p[ref])
        image, text = F.normalize(g, dim=-1), F.normalize(backbone.encode_text(backbone.tokenize(texts)), dim=-1)
        other = F.normalize(backbone.encode_text(backbone.tokenize(shuffled)), dim=-1)
        queries = {"fti4cir": (F.normalize(encode_composed_query(backbone, words, texts), dim=-1),
                               F.normalize(encode_composed_query(backbone, words, shuffled), dim=-1)),
                   "feature_sum": (F.normalize(image[ref] + text, dim=-1), F.normalize(image[ref] + other, dim=-1))}
        for name, (query, query_other_text) in queries.items():
            metrics[f"{name}_cos_query_reference"] = float((query * image[ref]).sum(-1).mean())
            metrics[f"{name}_cos_query_target"] = float((query * image[target]).sum(-1).mean())
            metrics[f"{name}_cos_query_query_with_other_text"] = float((query * query_other_text).sum(-1).mean())
    tracker.write_metrics(metrics)
    tracker.close()
    for key, value in metrics.items():
        print(f"{key} {value:.3f}")
    return metrics


if __name__ == "__main__":
    main()
