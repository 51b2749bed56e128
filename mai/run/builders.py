"""Build MAI's parts from CLI choices: tokenizer, frozen image encoder, model (+ BLIP-2 weights), checkpoints."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import atomic_write, load_checkpoint, save_atomic
from common.clip import load_clip
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt, MAIConfig
from mai.models.convert import (NEW_IN_MAI, eva_to_encoder_state, hf_blip2_to_mai, lavis_to_mai, load_into,
                                read_weights)
from mai.models.image_encoder import EVA_VIT_G, ClipTokenEncoder, EvaViTEncoder, FrozenImageEncoder
from mai.models.tokenizer import build_word_vocab, extend_word_vocab, load_tokenizer
from mai.run.stage1_pretrain import VOCAB_FILE as STAGE1_VOCAB
from mai.run.stage1_pretrain import ensure_stage1, load_stage1

BLIP2_BACKBONES = ("pretrain",)  # LAVIS model_type of BLIP-2 stage 1 with EVA ViT-g


def add_model_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("backbone")
    g.add_argument("--backbone", default="synthetic-tiny",
                   help="'pretrain' (BLIP-2 EVA ViT-g + BERT-base Q-Former) or a common.clip name whose patch "
                        "tokens feed a tiny Q-Former (e.g. synthetic-tiny)")
    g.add_argument("--blip-weights", default=None,
                   help="blip2_pretrained.pth (LAVIS), a MAI epoch*.pth, or an HF Salesforce/blip2-itm-vit-g folder")
    g.add_argument("--vit-weights", default=None, help="eva_vit_g.pth (LAVIS) when --blip-weights has no ViT")
    g.add_argument("--clip-pretrained", default=None, help="local weights for a common.clip --backbone")
    g.add_argument("--vocab", default=None,
                   help="BERT vocab.txt (bert-base-uncased's for BLIP-2 weights); default: a word-level vocab "
                        "built from the training texts and saved as <output-dir>/vocab.txt")
    g.add_argument("--qformer-size", default=None, choices=("base", "tiny"),
                   help="default: base for --backbone pretrain, tiny otherwise")
    g.add_argument("--max-txt-len", type=int, default=128)
    g.add_argument("--mio-k", type=int, default=5, help="k of MIO's DPC-KNN density (paper value unpublished)")
    g.add_argument("--qformer-init", default=None, choices=("stage1", "random"),
                   help="without --blip-weights: 'stage1' = the cached synthetic stage-1 pretraining "
                        "(mai/run/stage1_pretrain.py, the default for a common.clip --backbone), 'random'")


def stage1_folder(args: argparse.Namespace, encoder: FrozenImageEncoder) -> Path | None:
    """The cached stage-1 Q-Former to start from (built on first use), or None (BLIP-2 weights or random init)."""
    init = args.qformer_init or ("random" if args.backbone in BLIP2_BACKBONES or args.blip_weights or args.vocab
                                 else "stage1")
    if init == "random":
        return None
    if args.blip_weights or args.backbone in BLIP2_BACKBONES or args.vocab:
        raise ValueError("--qformer-init stage1 is the embedded default's pretraining: it takes neither "
                         "--blip-weights, --vocab nor --backbone pretrain")
    return ensure_stage1(encoder)


def build_tokenizer(vocab: str | None, texts: list[str], output_dir: Path, stage1: Path | None = None):
    """(tokenizer, vocab file): the given vocab, or a word-level one built from `texts` beside the run
    (extending the stage-1 vocab, so its pretrained word rows keep their ids)."""
    if vocab:
        path = Path(vocab)
    elif stage1 is not None:
        path = extend_word_vocab(stage1 / STAGE1_VOCAB, texts, output_dir / "vocab.txt")
    else:
        path = build_word_vocab(texts, output_dir / "vocab.txt")
    return load_tokenizer(path), path


def _blip2_state(path: str) -> tuple[dict, dict, tuple[str, ...]]:
    state, layout = read_weights(path)
    if layout == "eva":
        raise ValueError(f"{path}: --blip-weights holds only EVA ViT weights; pass it as --vit-weights")
    if layout == "hf":
        model_sd, enc_sd = hf_blip2_to_mai(state)
        return model_sd, enc_sd, NEW_IN_MAI + ("temp",)
    model_sd, enc_sd = lavis_to_mai(state)
    return model_sd, enc_sd, tuple(k for k in NEW_IN_MAI if k not in model_sd)


def build_image_encoder(args: argparse.Namespace, device: torch.device) -> FrozenImageEncoder:
    """EVA ViT-g for `pretrain` (weights from --vit-weights or --blip-weights), else a common.clip visual tower."""
    if args.backbone not in BLIP2_BACKBONES:
        clip = load_clip(args.backbone, pretrained=args.clip_pretrained, device=device)
        return ClipTokenEncoder(clip, identity=args.backbone).to(device)
    encoder = EvaViTEncoder()
    if args.vit_weights:
        state, layout = read_weights(args.vit_weights)
        enc_sd = eva_to_encoder_state(state, EVA_VIT_G["num_hidden_layers"]) if layout == "eva" else (
            _blip2_state(args.vit_weights)[1])
    elif args.blip_weights:
        enc_sd = _blip2_state(args.blip_weights)[1]
    else:
        enc_sd = {}
    if not enc_sd:
        raise FileNotFoundError("EVA ViT-g weights not found: pass --vit-weights eva_vit_g.pth (LAVIS "
                                "BLIP2/eva_vit_g.pth) or an HF blip2-itm-vit-g folder as --blip-weights")
    load_into(encoder, enc_sd, "EVA ViT-g")
    return encoder.half().to(device) if device.type == "cuda" else encoder.to(device)


def build_model(args: argparse.Namespace, tokenizer, vision_width: int,
                stage1: Path | None = None) -> Blip2QformerCirAlignPrompt:
    """MAI model sized by --backbone/--qformer-size, initialised from --blip-weights or the stage-1 folder."""
    size = args.qformer_size or ("base" if args.backbone in BLIP2_BACKBONES else "tiny")
    vocab_size = 30523 if size == "base" else len(tokenizer)
    cfg = MAIConfig(vision_width=vision_width, qformer=size, vocab_size=max(vocab_size, len(tokenizer)),
                    max_txt_len=args.max_txt_len, mio_k=args.mio_k)
    model = Blip2QformerCirAlignPrompt(cfg, tokenizer)
    if args.blip_weights:
        model_sd, _, new = _blip2_state(args.blip_weights)
        load_into(model, model_sd, args.blip_weights, allowed_missing=new)
    elif stage1 is not None:
        load_stage1(model, stage1)
    return model


def save_mai_checkpoint(path: Path, model: Blip2QformerCirAlignPrompt, epoch: int, args: argparse.Namespace,
                        vocab_file: Path) -> Path:
    """`{epoch, config, encoder, vocab, state_dict}`: everything `load_mai_checkpoint` needs (weights_only)."""
    encoder = {k: getattr(args, k) for k in ("backbone", "blip_weights", "vit_weights", "clip_pretrained")}
    return save_atomic({"epoch": epoch, "config": model.config.to_dict(), "encoder": encoder,
                        "vocab": Path(vocab_file).read_text(encoding="utf-8"),
                        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path)


def load_mai_checkpoint(path: str | Path, output_dir: Path) -> tuple[Blip2QformerCirAlignPrompt, dict]:
    """(model, encoder settings) from a checkpoint written by `save_mai_checkpoint` (strict load)."""
    ckpt = load_checkpoint(path)
    missing = [k for k in ("config", "encoder", "vocab", "state_dict") if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: checkpoint: missing {missing} (not written by mai/run/train_ddp.py)")
    vocab_file = atomic_write(output_dir / "vocab.txt", lambda handle: handle.write(ckpt["vocab"].encode("utf-8")))
    model = Blip2QformerCirAlignPrompt(MAIConfig.from_dict(ckpt["config"]), load_tokenizer(vocab_file))
    load_into(model, ckpt["state_dict"], str(path))
    return model, ckpt["encoder"]
