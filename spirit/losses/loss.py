"""SPIRIT's training loss: batch-based classification (cross-entropy over in-batch targets)."""
import torch
import torch.nn.functional as F


def batch_based_classification_loss(logits: torch.Tensor) -> torch.Tensor:
    """CE(logits, arange(B)) on [B, B] query→target logits (already scaled by 100); one direction, local negatives."""
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"batch_based_classification_loss: logits must be square [B, B], got {tuple(logits.shape)}")
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
