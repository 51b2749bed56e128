"""MIO (Multi-turn Iterative Optimization): parameter-free DPC-KNN selection of representative tokens.

Not released by the authors (`prune_tokens` is a `pass` stub); rebuilt from the paper's figure and
abstract: previous-turn tokens ⊕ current-turn tokens → DPC-KNN → a token set of one turn's size.
"""
from __future__ import annotations

import torch


def dpc_knn_scores(tokens: torch.Tensor, k: int) -> torch.Tensor:
    """Density-peak scores ρ·δ [B, N] of tokens [B, N, C] (TCFormer-style DPC-KNN).

    ρ_i = exp(-mean of squared distances to the k nearest neighbours, self included);
    δ_i = distance to the nearest denser token (the largest distance for the densest token).
    Distances are Euclidean divided by sqrt(C). Ties in ρ are broken towards later tokens.
    """
    if tokens.dim() != 3:
        raise ValueError(f"dpc_knn_scores: expected tokens [B, N, C], got shape {tuple(tokens.shape)}")
    batch, num, channels = tokens.shape
    if not 1 <= k <= num:
        raise ValueError(f"dpc_knn_scores: k={k} must be in [1, {num}]")
    x = tokens.float()
    dist = torch.cdist(x, x) / channels ** 0.5
    knn = dist.topk(k, dim=-1, largest=False).values
    density = torch.exp(-(knn ** 2).mean(dim=-1))
    density = density + 1e-6 * torch.arange(num, device=x.device, dtype=density.dtype) / num
    denser = density[:, None, :] > density[:, :, None]
    dist_max = dist.flatten(1).max(dim=-1).values[:, None, None]
    delta = torch.where(denser, dist, dist_max).min(dim=-1).values
    return density * delta


def select_representative_tokens(before: torch.Tensor, after: torch.Tensor, k: int = 5,
                                 num_keep: int | None = None) -> torch.Tensor:
    """MIO: keep the `num_keep` (default: one turn's count) DPC-KNN centres of `[before; after]`.

    before: previous turn's carried tokens [B, N, C] (pass them detached, as the original does);
    after: this turn's tokens [B, N, C]. Returns [B, num_keep, C], original tokens in their
    concatenation order (selection, not merging). No parameters; gradients reach the kept `after` tokens.
    """
    if before.shape[0] != after.shape[0] or before.shape[2] != after.shape[2]:
        raise ValueError(f"select_representative_tokens: before {tuple(before.shape)} and after "
                         f"{tuple(after.shape)} must share batch and channel sizes")
    tokens = torch.cat([before, after], dim=1)
    keep = after.shape[1] if num_keep is None else num_keep
    with torch.no_grad():
        scores = dpc_knn_scores(tokens, k)
        index = scores.topk(keep, dim=-1).indices.sort(dim=-1).values
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[2]))
