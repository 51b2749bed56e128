"""FTI4CIR losses: image-text NT-Xent, orthogonality of the kept local slots, tri-wise caption regularisation."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from fti4cir.models.fti_network import PseudoWords
from fti4cir.models.prompts import (caption_prompt, encode_attribute_prompts, encode_image_sentence,
                                    encode_subject_prompts)


def nt_xent_loss(v1: torch.Tensor, v2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent (SEARLE/PALAVRA): z = [v1; v2] normalised; row j's positive is its partner, the denominator
    sums over every other row (positive included); mean over the 2B rows."""
    z = F.normalize(torch.cat([v1, v2]), dim=1)
    n = v1.shape[0]
    logits = z @ z.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, partner)


def orthogonality_loss(local_features: torch.Tensor) -> torch.Tensor:
    """MSE between each image's slot Gram matrix L̂ L̂ᵀ (L2-normalised slots) and the identity."""
    local = F.normalize(local_features, dim=-1)
    gram = local @ local.transpose(1, 2)
    return F.mse_loss(gram, torch.eye(gram.shape[-1], device=gram.device).expand_as(gram))


def cosine_embedding_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos(x_b, y_b) (CosineEmbeddingLoss with target 1)."""
    return (1 - F.cosine_similarity(x, y, dim=-1)).mean()


def tri_wise_regularisation(sentence_feat: torch.Tensor, subject_feat: torch.Tensor, attribute_feat: torch.Tensor,
                            caption_feat: torch.Tensor) -> torch.Tensor:
    """[1-cos(t_subj, t_both)] + [1-cos(t_attr, t_both)] + [1-cos(f, t_both)], each a batch mean."""
    return (cosine_embedding_loss(subject_feat, caption_feat) + cosine_embedding_loss(attribute_feat, caption_feat)
            + cosine_embedding_loss(sentence_feat, caption_feat))


def fti4cir_loss(backbone, words: PseudoWords, global_feat: torch.Tensor, subjects: Sequence[str],
                 attributes: Sequence[str], temperature: float = 0.2, hy_reg_loss: float = 1.4,
                 gather=None) -> dict[str, torch.Tensor]:
    """Total loss L_con + L_orth + λ·L_reg of one batch, and its parts.

    `gather` (e.g. `common.dist.all_gather_with_grad`) makes the contrastive negatives span all processes.
    """
    sentence = encode_image_sentence(backbone, words)
    with torch.no_grad():
        caption = backbone.encode_text(backbone.tokenize([caption_prompt(s, a) for s, a in zip(subjects, attributes)])
                                       .to(global_feat.device))
    reg = tri_wise_regularisation(sentence, encode_subject_prompts(backbone, words, attributes),
                                  encode_attribute_prompts(backbone, words, subjects), caption)
    image, text = (gather(global_feat), gather(sentence)) if gather is not None else (global_feat, sentence)
    con = nt_xent_loss(image, text, temperature)
    orth = orthogonality_loss(words.local_features)
    return {"loss": con + orth + hy_reg_loss * reg, "contrastive": con.detach(), "orthogonal": orth.detach(),
            "regularisation": reg.detach()}
