"""MAI's model (`Blip2QformerCirAlignPrompt`): TSA (BSA → MSA), bimodal target encoder, MIO chaining, CCL."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mai.losses.ccl import ccl_losses, token_contrast_loss
from mai.models.mio import select_representative_tokens
from mai.models.qformer import QFormer, qformer_config

MODES = ("single", "single_no_target", "multi", "fiq")


@dataclass
class MAIConfig:
    """Sizes of the model; `base` matches BLIP-2 stage 1 + MAI (Q-Former BERT-base, 32 queries, 256-d)."""

    vision_width: int = 1408
    qformer: str | dict = "base"
    vocab_size: int = 30523
    num_query_token: int = 32
    embed_dim: int = 256
    max_txt_len: int = 128
    mio_k: int = 5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MAIConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"MAIConfig: unknown fields {sorted(unknown)}")
        return cls(**d)


class Blip2QformerCirAlignPrompt(nn.Module):
    """MAI on a BLIP-2 Q-Former. Image inputs are the frozen encoder's raw tokens [B, N, vision_width].

    Parameter names follow the original where it has them (`ln_vision`, `Qformer`, `query_tokens`,
    `prompt_tokens`, `text_proj`, `target_proj`, `temp`); the Q-Former inside uses HF's names and
    `mai.models.convert` maps LAVIS checkpoints onto them.
    """

    def __init__(self, config: MAIConfig, tokenizer):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        qcfg = qformer_config(config.qformer, config.vocab_size, config.vision_width)
        hidden = qcfg.hidden_size
        self.ln_vision = nn.LayerNorm(config.vision_width)
        self.Qformer = QFormer(qcfg)
        self._copy_text_ffn_to_query_ffn()
        self.query_tokens = nn.Parameter(torch.randn(1, config.num_query_token, hidden) * 0.02)
        self.prompt_tokens = nn.Parameter(torch.randn(1, config.num_query_token, hidden) * 0.02)
        self.text_proj = nn.Linear(hidden, config.embed_dim)
        self.target_proj = nn.Linear(hidden, config.embed_dim)
        self.temp = nn.Parameter(torch.tensor(0.07))
        if len(tokenizer) > config.vocab_size:
            raise ValueError(f"MAIConfig: vocab_size {config.vocab_size} < tokenizer size {len(tokenizer)}")

    def _copy_text_ffn_to_query_ffn(self) -> None:
        # LAVIS `init_Qformer`: the query FFN starts as a copy of the text FFN.
        with torch.no_grad():
            for layer in self.Qformer.qformer.encoder.layer:
                layer.intermediate_query.load_state_dict(layer.intermediate.state_dict())
                layer.output_query.load_state_dict(layer.output.state_dict())

    @property
    def num_query(self) -> int:
        return self.config.num_query_token

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask), truncated at `max_txt_len` and padded to the batch's longest."""
        enc = self.tokenizer(list(texts), padding="longest", truncation=True,
                             max_length=self.config.max_txt_len, return_tensors="pt")
        device = self.query_tokens.device
        return enc["input_ids"].to(device), enc["attention_mask"].to(device)

    # ---- building blocks -------------------------------------------------------------------
    def _queries(self, batch: int) -> torch.Tensor:
        return self.query_tokens.expand(batch, -1, -1)

    def bsa(self, image_tokens: torch.Tensor, captions: list[str],
            queries: torch.Tensor | None = None) -> torch.Tensor:
        """Bimodal Semantic Aggregation: queries ⊗ (image + its caption) → fused tokens [B, 32, H]."""
        ids, mask = self.tokenize(captions)
        q = self._queries(ids.shape[0]) if queries is None else queries
        hidden = self.Qformer(q, ids, mask, self.ln_vision(image_tokens))
        return hidden[:, : self.num_query]

    def carry(self, previous: torch.Tensor | None, fused: torch.Tensor) -> torch.Tensor:
        """Tokens handed to the next turn: MIO over (previous, detached) ⊕ current fused tokens."""
        if previous is None:
            return fused
        return select_representative_tokens(previous.detach(), fused, k=self.config.mio_k)

    def msa(self, fused: torch.Tensor, modifiers: list[str]) -> torch.Tensor:
        """Modification Semantic Aggregation (no image): f_q = norm(text_proj(out[CLS])) [B, 256]."""
        ids, mask = self.tokenize(modifiers)
        hidden = self.Qformer(fused, ids, mask)
        return F.normalize(self.text_proj(hidden[:, self.num_query]), dim=-1)

    def caption_aggregation(self, fused: torch.Tensor, history_captions: list[str]) -> torch.Tensor:
        """Final combination turn's stage 1': carried tokens re-aggregated with the history captions."""
        ids, mask = self.tokenize(history_captions)
        return self.Qformer(fused, ids, mask)[:, : self.num_query]

    def target_features(self, image_tokens: torch.Tensor, captions: list[str]) -> torch.Tensor:
        """Bimodal target feature f_t = norm(target_proj(Q-Former(image + caption)[CLS])) [B, 256]."""
        ids, mask = self.tokenize(captions)
        hidden = self.Qformer(self._queries(ids.shape[0]), ids, mask, self.ln_vision(image_tokens))
        return F.normalize(self.target_proj(hidden[:, self.num_query]), dim=-1)

    def target_token_features(self, image_tokens: torch.Tensor) -> torch.Tensor:
        """Image-only target tokens norm(target_proj(Q-Former(image))) [B, 32, 256] ("fiq" mode)."""
        hidden = self.Qformer(self._queries(image_tokens.shape[0]), image_embeds=self.ln_vision(image_tokens))
        return F.normalize(self.target_proj(hidden), dim=-1)

    def text_features(self, texts: list[str]) -> torch.Tensor:
        """Text-only feature through the shared prompt tokens (SPRC's no_img path), [B, 256]."""
        ids, mask = self.tokenize(texts)
        hidden = self.Qformer.encode_text_with_prompt(self.prompt_tokens, ids, mask)
        return F.normalize(self.text_proj(hidden[:, 0]), dim=-1)

    # ---- one turn --------------------------------------------------------------------------
    def query_single(self, image_tokens: torch.Tensor, captions: list[str], modifiers: list[str],
                     fusion: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """TSA turn: (f_q [B, 256], carry tokens [B, 32, H]). MSA reads the un-pruned BSA output."""
        fused = self.bsa(image_tokens, captions, fusion)
        return self.msa(fused, modifiers), self.carry(fusion, fused)

    def query_multi(self, fusion: torch.Tensor, history_captions: list[str], modifiers: list[str]) -> torch.Tensor:
        """Final combination turn: caption re-aggregation of the carried tokens, then MSA."""
        return self.msa(self.caption_aggregation(fusion, history_captions), modifiers)

    def turn_losses(self, f_query: torch.Tensor, target_tokens: torch.Tensor, target_captions: list[str],
                    modifiers: list[str]) -> dict[str, torch.Tensor]:
        return ccl_losses(f_query, self.target_features(target_tokens, target_captions),
                          self.text_features(target_captions), self.text_features(modifiers))

    def forward(self, samples: dict, mode: str):
        """The original's training modes (image keys hold frozen-encoder tokens, not pixels).

        single: returns (CCL dict, carry tokens); single_no_target: carry tokens; multi: CCL dict;
        fiq: {"loss_itc": token contrast loss}.
        """
        if mode == "single":
            f_q, carry = self.query_single(samples["image"], samples["ref_cap"], samples["text_input"],
                                           samples.get("fusion"))
            return self.turn_losses(f_q, samples["target"], samples["tar_cap"], samples["text_input"]), carry
        if mode == "single_no_target":
            return self.carry(samples.get("fusion"), self.bsa(samples["image"], samples["ref_cap"],
                                                               samples.get("fusion")))
        if mode == "multi":
            f_q = self.query_multi(samples["fusion"], samples["ref_cap"], samples["text_input"])
            return self.turn_losses(f_q, samples["target"], samples["tar_cap"], samples["text_input"])
        if mode == "fiq":
            fused = self.bsa(samples["image"], samples["text_input"])
            f_q = self.msa(fused, samples["text_input"])
            return {"loss_itc": token_contrast_loss(f_q, self.target_token_features(samples["target"]), self.temp)}
        raise ValueError(f"Blip2QformerCirAlignPrompt.forward: mode must be one of {MODES}, got {mode!r}")
