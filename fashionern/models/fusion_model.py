"""FashionERN fusion blocks: CombinerSimple, VisualSR, the BERT fusion encoder and the DVR module."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel

PATCH_NUM = 13


class CombinerSimple(nn.Module):
    """Gated convex combination of the raw inputs: normalize(λ·text + (1-λ)·image).

    The reduced CLIP4Cir Combiner of FashionERN (no residual MLP branch); λ comes from the
    concatenation of the projected text and image features.
    """

    def __init__(self, clip_feature_dim: int = 512, projection_dim: int = 512 * 4, hidden_dim: int = 512 * 8):
        super().__init__()
        self.dynamic_scalar = nn.Sequential(
            nn.Linear(projection_dim * 2, hidden_dim), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden_dim, 1), nn.Sigmoid(),
        )
        self.text_projection_layer = nn.Sequential(
            nn.Linear(clip_feature_dim, projection_dim), nn.ReLU(), nn.Dropout(0.5))
        self.image_projection_layer = nn.Sequential(
            nn.Linear(clip_feature_dim, projection_dim), nn.ReLU(), nn.Dropout(0.5))

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        joint = torch.cat((self.text_projection_layer(text_features),
                           self.image_projection_layer(image_features)), dim=-1)
        gate = self.dynamic_scalar(joint)
        return F.normalize(gate * text_features + (1 - gate) * image_features, dim=-1)


def l2norm(x: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """x / (||x|| + eps), the SGRAF normalisation used by VisualSR."""
    return x / (x.pow(2).sum(dim=dim, keepdim=True).sqrt() + eps)


class VisualSR(nn.Module):
    """Self-guided refinement: attention-weighted pooling of the patch tokens, L2-normalised.

    Input `[B, num_region, D]`; `BatchNorm1d(num_region)` normalises over the token axis, so the
    number of tokens must equal `num_region` (13).
    """

    def __init__(self, embed_dim: int = 512, dropout_rate: float = 0.5, num_region: int = PATCH_NUM):
        super().__init__()
        self.num_region = num_region
        self.embedding_local = self._embedding(embed_dim, num_region, dropout_rate)
        self.embedding_global = self._embedding(embed_dim, embed_dim, dropout_rate)
        self.embedding_common = nn.Linear(embed_dim, 1)
        self.softmax = nn.Softmax(dim=1)
        self._init_weights()

    @staticmethod
    def _embedding(embed_dim: int, bn_channels: int, dropout_rate: float) -> nn.Sequential:
        return nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.BatchNorm1d(bn_channels),
                             nn.Tanh(), nn.Dropout(dropout_rate))

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                bound = math.sqrt(6.0) / math.sqrt(module.in_features + module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, local_feature: torch.Tensor) -> torch.Tensor:
        if local_feature.dim() != 3 or local_feature.shape[1] != self.num_region:
            raise ValueError(f"VisualSR: expected [B, {self.num_region}, D] tokens, got {list(local_feature.shape)}")
        local_emb = self.embedding_local(local_feature)
        global_emb = self.embedding_global(local_feature.mean(dim=1)).unsqueeze(1)
        weights = self.softmax(self.embedding_common(local_emb * global_emb).squeeze(2))
        return l2norm((weights.unsqueeze(2) * local_feature).sum(dim=1))


class EncoderModel(nn.Module):
    """A word-embedding-free HF BERT encoder fed with `inputs_embeds` (hidden size = D, 8 heads)."""

    def __init__(self, fp16: bool = False, feature_dim: int = 640, layers: int = 3):
        super().__init__()
        self.fp16 = fp16
        self.config = BertConfig(hidden_size=feature_dim, num_attention_heads=8, max_position_embeddings=512,
                                 num_hidden_layers=layers, pad_token_id=None, vocab_size=0, type_vocab_size=2)
        self.bert_model = BertModel(self.config)
        del self.bert_model.embeddings.word_embeddings

    def forward(self, inputs_embeds: torch.Tensor, token_type_ids: torch.Tensor, attention_mask: torch.Tensor):
        with torch.autocast(device_type=inputs_embeds.device.type, enabled=self.fp16):
            return self.bert_model(inputs_embeds=inputs_embeds, token_type_ids=token_type_ids,
                                   attention_mask=attention_mask)


class PlusModel(nn.Module):
    """BERT fusion over `[CLS] + reference patch tokens (type 0) + text tokens (type 1)`.

    The CLS embedding is a registered zero-initialised parameter (the original's `.to(device)`
    made it an unregistered constant zero on CUDA; see the README).
    """

    def __init__(self, fp16: bool = False, feature_dim: int = 640, layers: int = 3):
        super().__init__()
        self.bert_encoder = EncoderModel(fp16, feature_dim, layers)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, feature_dim))

    def forward(self, reference_features: torch.Tensor, text_features: torch.Tensor):
        batch, patch_num, _ = reference_features.shape
        seq_num = text_features.shape[1]
        device = reference_features.device
        cls = self.cls_token.expand(batch, -1, -1).to(reference_features.dtype)
        inputs = torch.cat((cls, reference_features, text_features), dim=1)
        token_type_ids = torch.cat((torch.zeros(batch, patch_num + 1, dtype=torch.long, device=device),
                                    torch.ones(batch, seq_num, dtype=torch.long, device=device)), dim=1)
        attention_mask = torch.ones(batch, patch_num + seq_num + 1, dtype=torch.long, device=device)
        output = self.bert_encoder(inputs, token_type_ids, attention_mask)
        pooled = output.pooler_output
        return F.normalize(pooled, dim=-1), output.last_hidden_state, pooled


class DVR_module(nn.Module):  # noqa: N801 (original class name)
    """Dual-guided Vision Refinement: BERT fusion, MR cross-attention, VisualSR, three Combiners.

    forward(ref_patch [B,13,D], text_seq [B,L,D], ref_global [B,D], text_global [B,D]) -> [B,D] (unit norm).
    """

    def __init__(self, feature_dim: int = 640, layers: int = 2):
        super().__init__()
        self.transformer_layer = PlusModel(feature_dim=feature_dim, layers=layers)
        self.SR_module = VisualSR(embed_dim=feature_dim)
        self.MR_component = nn.MultiheadAttention(embed_dim=feature_dim, num_heads=8, dropout=0.1, batch_first=True)
        self.combiner_global = CombinerSimple(feature_dim, feature_dim * 4, feature_dim * 8)
        self.combiner_local = CombinerSimple(feature_dim, feature_dim * 4, feature_dim * 8)
        self.combiner = CombinerSimple(feature_dim, feature_dim * 4, feature_dim * 8)

    def forward(self, ref_patch_features: torch.Tensor, text_seq_features: torch.Tensor,
                ref_global_feats: torch.Tensor, text_global_feats: torch.Tensor) -> torch.Tensor:
        _, hidden, _ = self.transformer_layer(ref_patch_features, text_seq_features)
        patch_num = ref_patch_features.shape[1]
        if text_seq_features.shape[1] < patch_num:
            raise ValueError(f"DVR: the MR component keeps the first {patch_num} text positions; "
                             f"got only {text_seq_features.shape[1]} text tokens")
        image_tokens = F.normalize(hidden[:, 1:patch_num + 1], dim=2)
        text_tokens = F.normalize(hidden[:, patch_num + 1:], dim=2)
        refined, _ = self.MR_component(query=text_tokens, key=image_tokens, value=image_tokens,
                                       need_weights=False)
        local_visual = self.SR_module(refined[:, :patch_num])
        local_text = text_tokens.mean(dim=1)
        global_query = self.combiner_global(ref_global_feats, text_global_feats)
        local_query = self.combiner_local(local_visual, local_text)
        return self.combiner(global_query, local_query)
