"""BLIP-2 stage-1 Q-Former on `transformers` building blocks, with SPRC/MAI's FFN routing and prompt path."""
from __future__ import annotations

import torch
from torch import nn
from transformers import Blip2QFormerConfig
from transformers.models.blip_2.modeling_blip_2 import Blip2QFormerModel, Blip2TextEmbeddings

# BERT-base sizes of BLIP-2's Q-Former (`bert-base-uncased` + cross-attention every 2 layers).
BASE_QFORMER = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                    max_position_embeddings=512, cross_attention_frequency=2)
# Test/embedded-default size: same structure (cross-attention on even layers, query FFNs), tiny widths.
# No dropout: trained from scratch on tiny data, BERT's 0.1 dropout keeps the Q-Former's text features
# collapsed (all captions at cosine > 0.95) under CCL's fixed scale of 100.
TINY_QFORMER = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=128,
                    max_position_embeddings=256, cross_attention_frequency=2, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0)
QFORMER_SIZES = {"base": BASE_QFORMER, "tiny": TINY_QFORMER}


def qformer_config(size: str | dict, vocab_size: int, encoder_width: int) -> Blip2QFormerConfig:
    """The Q-Former config for a named size ("base" | "tiny") or an explicit dict of sizes."""
    sizes = QFORMER_SIZES[size] if isinstance(size, str) else dict(size)
    return Blip2QFormerConfig(vocab_size=vocab_size, encoder_hidden_size=encoder_width,
                              use_qformer_text_input=True, layer_norm_eps=1e-12, pad_token_id=0, **sizes)


class QFormer(nn.Module):
    """Q-Former with LAVIS/SPRC semantics on HF blocks.

    The sequence is `[queries; text]`. With image states, the query rows go through cross-attention
    (on cross-attention layers) and the query FFN, text rows through the text FFN. Without image
    states, every row uses the text FFN (SPRC/MAI routing, which differs from upstream LAVIS).
    """

    def __init__(self, config: Blip2QFormerConfig):
        super().__init__()
        self.config = config
        self.embeddings = Blip2TextEmbeddings(config)
        self.qformer = Blip2QFormerModel(config)

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def forward(self, query_embeds: torch.Tensor, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                image_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states [B, Q + L, H] of `[query_embeds; text]` (text optional), image cross-attended if given."""
        num_query = query_embeds.shape[1]
        embeds = self.embeddings(input_ids=input_ids, query_embeds=query_embeds)
        if attention_mask is None and input_ids is not None:
            raise ValueError("QFormer: attention_mask is required with input_ids")
        mask = None
        if input_ids is not None:
            ones = torch.ones(attention_mask.shape[0], num_query, dtype=attention_mask.dtype,
                              device=attention_mask.device)
            mask = torch.cat([ones, attention_mask], dim=1)
        out = self.qformer(query_embeds=embeds, query_length=num_query if image_embeds is not None else 0,
                           attention_mask=mask, encoder_hidden_states=image_embeds)
        return out.last_hidden_state

    def encode_text_with_prompt(self, prompt_embeds: torch.Tensor, input_ids: torch.Tensor,
                                attention_mask: torch.Tensor) -> torch.Tensor:
        """SPRC's `no_img` path: `[CLS, prompts, text[1:]]` with positions over the whole length; [B, P + L, H]."""
        words = self.embeddings.word_embeddings(input_ids)
        prompts = prompt_embeds.expand(input_ids.shape[0], -1, -1).to(words.dtype)
        embeds = torch.cat([words[:, :1], prompts, words[:, 1:]], dim=1)
        length = embeds.shape[1]
        if length > self.config.max_position_embeddings:
            raise ValueError(f"QFormer: prompt + text length {length} exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        embeds = embeds + self.embeddings.position_embeddings(self.embeddings.position_ids[:, :length])
        ones = torch.ones(attention_mask.shape[0], prompts.shape[1], dtype=attention_mask.dtype,
                          device=attention_mask.device)
        mask = torch.cat([ones, attention_mask], dim=1)
        return self.qformer(query_embeds=embeds, query_length=0, attention_mask=mask).last_hidden_state
