"""Stage-1 pretraining of the tiny Q-Former on rendered garments (the embedded default's BLIP-2 stage 1), cached once.

BLIP-2's stage 1 trains the Q-Former on image-caption pairs with a frozen image encoder before any CIR
fine-tuning; MAI starts from that checkpoint. The embedded default has no such checkpoint, so it builds a
small one the way it builds the tiny CLIP: fresh garment renders (not benchmark images) with varied
captions, the frozen tiny-CLIP patch tokens, and BLIP-2's image-text contrastive loss (ITC: 32 query
outputs through `vision_proj`, max over queries against the text-only [CLS] through `text_proj`, learnable
temperature). ITM and ITG are not trained. The result is cached under `$CIR_CACHE/mai_stage1/<hash>`
(hash of this config, the encoder weights and the renderer's code).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from common.checkpoint import load_checkpoint, save_atomic
from common.retrieval import weights_fingerprint
from common.synthetic.attributes import CATEGORIES, random_garment
from common.synthetic.cache import cache_root
from common.synthetic.captions import canonical_caption, varied_caption
from common.synthetic.lock import exclusive
from common.synthetic.render import render_garment
from common.synthetic.staging import staged_folder
from common.synthetic.tiny_clip import renderer_digest
from common.tracking import RunTracker
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt, MAIConfig
from mai.models.convert import NEW_IN_MAI
from mai.models.image_encoder import FrozenImageEncoder
from mai.models.tokenizer import build_word_vocab, load_tokenizer

WEIGHTS_FILE = "qformer_stage1.pt"
VOCAB_FILE = "vocab.txt"


@dataclass(frozen=True)
class Stage1Config:
    """Everything the stage-1 weights depend on besides the encoder (hashed into the cache folder name)."""

    seed: int = 0
    train_images: int = 3000
    heldout_images: int = 500
    captions_per_image: int = 2
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 30
    weight_decay: float = 0.05
    qformer: str = "tiny"


DEFAULT = Stage1Config()


def stage1_dir(encoder: FrozenImageEncoder, cfg: Stage1Config = DEFAULT) -> Path:
    """The cache folder of `cfg` on top of `encoder` (`$CIR_CACHE/mai_stage1/<hash>`)."""
    blob = json.dumps({"train": asdict(cfg), "encoder": encoder.identity, "weights": weights_fingerprint(encoder),
                       "render": renderer_digest()}, sort_keys=True)
    return cache_root() / "mai_stage1" / hashlib.sha256(blob.encode()).hexdigest()[:12]


def _render(n: int, rng: np.random.Generator, captions_per_image: int, encoder: FrozenImageEncoder):
    garments = [random_garment(rng, tuple(CATEGORIES)) for _ in range(n)]
    pixels = [render_garment(g, rng)[0] for g in garments]
    captions = [[varied_caption(g, rng) for _ in range(captions_per_image)] for g in garments]
    device = next(iter(encoder.state_dict().values())).device
    with torch.no_grad():
        tokens = torch.cat([encoder(torch.stack([encoder.preprocess(Image.fromarray(p))
                                                 for p in pixels[i:i + 256]]).to(device)).cpu()
                            for i in range(0, n, 256)])
    keys = {}
    labels = torch.tensor([keys.setdefault(g.key, len(keys)) for g in garments])
    return garments, tokens, captions, labels


def _image_features(model: Blip2QformerCirAlignPrompt, vision_proj: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    hidden = model.Qformer(model.query_tokens.expand(tokens.shape[0], -1, -1), image_embeds=model.ln_vision(tokens))
    return F.normalize(vision_proj(hidden), dim=-1)


def _text_features(model: Blip2QformerCirAlignPrompt, texts: list[str]) -> torch.Tensor:
    ids, mask = model.tokenize(texts)
    no_queries = model.query_tokens[:, :0].expand(ids.shape[0], -1, -1)
    return F.normalize(model.text_proj(model.Qformer(no_queries, ids, mask)[:, 0]), dim=-1)


def itc_loss(image_feats: torch.Tensor, text_feats: torch.Tensor, temp: torch.Tensor,
             labels: torch.Tensor) -> torch.Tensor:
    """BLIP-2 ITC: similarity = max over the query tokens; images of the same garment count as positives."""
    sim = torch.einsum("ikd,td->itk", image_feats, text_feats).max(dim=-1).values / temp
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    return (F.cross_entropy(sim, target) + F.cross_entropy(sim.t(), target)) / 2


@torch.no_grad()
def heldout_recall(model, vision_proj, garments, tokens) -> dict[str, float]:
    """R@1 (%) image→caption and caption→image over canonical captions of held-out renders (same garment = hit)."""
    unique = sorted({g.key: g for g in garments}.items())
    keys = np.array([k for k, _ in unique])
    model.eval()
    img = torch.cat([_image_features(model, vision_proj, tokens[i:i + 256]) for i in range(0, len(tokens), 256)])
    txt = _text_features(model, [canonical_caption(g) for _, g in unique])
    sim = torch.einsum("ikd,td->itk", img, txt).max(dim=-1).values
    image_keys = np.array([g.key for g in garments])
    return {"image_to_text_R@1": float(np.mean(keys[sim.argmax(1).numpy()] == image_keys)) * 100,
            "text_to_image_R@1": float(np.mean(image_keys[sim.argmax(0).numpy()] == keys)) * 100}


def train_stage1(encoder: FrozenImageEncoder, cfg: Stage1Config, folder: Path, log=print) -> dict[str, float]:
    """Render, pretrain with ITC, evaluate on held-out renders and save `folder` (weights, vocab, metrics)."""
    rng = np.random.default_rng([cfg.seed, 11])
    garments, tokens, captions, labels = _render(cfg.train_images, rng, cfg.captions_per_image, encoder)
    held = _render(cfg.heldout_images, np.random.default_rng([cfg.seed, 12]), 1, encoder)
    torch.manual_seed(cfg.seed)
    with staged_folder(folder) as tmp:
        tokenizer = load_tokenizer(build_word_vocab([c for caps in captions for c in caps], tmp / VOCAB_FILE))
        config = MAIConfig(vision_width=encoder.width, qformer=cfg.qformer, vocab_size=len(tokenizer))
        model = Blip2QformerCirAlignPrompt(config, tokenizer)
        vision_proj = nn.Linear(model.Qformer.hidden_size, config.embed_dim)
        params = [*model.parameters(), *vision_proj.parameters()]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
        schedule = lambda s: (min(1.0, (s + 1) / cfg.warmup_steps)  # noqa: E731
                              * 0.5 * (1 + math.cos(math.pi * s / cfg.steps)))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        gen = torch.Generator().manual_seed(cfg.seed)
        model.train()
        for step in range(cfg.steps):
            batch = torch.randint(len(garments), (cfg.batch_size,), generator=gen)
            pick = torch.randint(cfg.captions_per_image, (cfg.batch_size,), generator=gen)
            texts = [captions[i][j] for i, j in zip(batch.tolist(), pick.tolist())]
            with torch.no_grad():
                model.temp.clamp_(0.001, 0.5)
            loss = itc_loss(_image_features(model, vision_proj, tokens[batch]), _text_features(model, texts),
                            model.temp, labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if step % 100 == 0 or step == cfg.steps - 1:
                log(f"MAI stage 1: step {step} ITC loss {loss.item():.3f}")
        metrics = heldout_recall(model, vision_proj, held[0], held[1])
        log(f"MAI stage 1: held-out {json.dumps(metrics)}")
        save_atomic({"config": config.to_dict(), "stage1": asdict(cfg),
                     "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, tmp / WEIGHTS_FILE)
        RunTracker(tmp, "mai_stage1", "synthetic", "heldout", "synthetic.caption_r1", config=asdict(cfg),
                   tensorboard=False).write_metrics(metrics)
    return metrics


def ensure_stage1(encoder: FrozenImageEncoder, cfg: Stage1Config | None = None, log=print) -> Path:
    """The cached stage-1 folder for `encoder` (config `DEFAULT`), pretraining it first if absent (one builder at
    a time)."""
    cfg = cfg or DEFAULT
    folder = stage1_dir(encoder, cfg)
    if not (folder / WEIGHTS_FILE).is_file():
        with exclusive(folder.parent / f".{folder.name}.lock"):
            if not (folder / WEIGHTS_FILE).is_file():
                train_stage1(encoder, cfg, folder, log)
    return folder


def load_stage1(model: Blip2QformerCirAlignPrompt, folder: Path) -> None:
    """Copy stage-1 weights into `model`; its vocab must extend the stage-1 vocab (word rows copied by id)."""
    ckpt = load_checkpoint(folder / WEIGHTS_FILE)
    state = dict(ckpt["state_dict"])
    own = model.state_dict()
    vocab = (folder / VOCAB_FILE).read_text(encoding="utf-8").splitlines()
    words = len(vocab)
    key = "Qformer.embeddings.word_embeddings.weight"
    if own[key].shape[0] < words or model.tokenizer.convert_ids_to_tokens(list(range(words))) != vocab:
        raise ValueError(f"{folder / VOCAB_FILE}: the model's vocab does not extend the stage-1 vocab")
    rows = own[key].clone()
    rows[:words] = state[key][:words]
    state[key] = rows
    for name in NEW_IN_MAI:  # MAI's new parameters keep their own random init, as on BLIP-2 weights
        state[name] = own[name]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise KeyError(f"{folder / WEIGHTS_FILE}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(state)
