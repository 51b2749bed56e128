"""Frozen-CLIP text features, each distinct text encoded once and kept for the whole run."""
from collections.abc import Sequence

import torch


class TextFeatureCache:
    """`cache(texts) -> [len(texts), D]` raw `encode_text` features; unseen texts are encoded in batches."""

    def __init__(self, backbone: torch.nn.Module, device: torch.device | str = "cpu", batch_size: int = 256):
        self.backbone = backbone
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._features: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._features)

    @torch.no_grad()
    def _encode(self, texts: list[str]) -> None:
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            ids = self.backbone.tokenize(chunk).to(self.device)
            feats = self.backbone.encode_text(ids).float().cpu()
            self._features.update(zip(chunk, feats))

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        missing = list(dict.fromkeys(t for t in texts if t not in self._features))
        if missing:
            was_training = self.backbone.training
            self.backbone.eval()
            self._encode(missing)
            self.backbone.train(was_training)
        return torch.stack([self._features[t] for t in texts])
