"""LinCIR queries: pseudo tokens from image features, `"a photo of $ that {text}"`, and the zero-shot evaluations."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from common import zeroshot
from common.clip import ClipBackbone, get_transform
from common.phi import Phi
from common.retrieval import encode_gallery

PROMPT = "a photo of $ that {}"
PROTOCOLS = {"cirr": "cirr.rc2", "fashioniq": "fiq.original", "circo": "circo.relcap"}


def trim_to_eot(ids: torch.Tensor) -> torch.Tensor:
    """Token ids [B, 77] cut after the batch's last EOT: under the causal mask no position before a row's EOT
    attends to the padding after it, so the text features are the same and the encoder runs ~4x fewer positions."""
    return ids[:, :int(ids.argmax(dim=-1).max()) + 1]


class PhiQueryEncoder:
    """A `common.zeroshot.QueryEncoder`: CLIP image features (cached) and LinCIR composed queries."""

    def __init__(self, clip: ClipBackbone, phi: Phi, l2_normalize: bool = False, preprocess_type: str = "clip",
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 64):
        self.clip, self.phi, self.l2_normalize, self.batch_size = clip, phi, l2_normalize, batch_size
        self.transform = get_transform(preprocess_type, clip.image_size)
        self.transform_id = f"{preprocess_type}-{clip.image_size}"
        self.cache_dir = cache_dir

    def gallery(self, names: Sequence[str], image_path, load_image=None) -> torch.Tensor:
        return encode_gallery(self.clip, list(names), image_path, self.cache_dir, self.transform_id,
                              self.batch_size, transform=self.transform, load_image=load_image)

    @torch.no_grad()
    def compose(self, image_features: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """Normalised query features from reference image features [Q, D] and relative texts."""
        if len(texts) != image_features.shape[0]:
            raise ValueError(f"{len(texts)} texts for {image_features.shape[0]} reference features")
        self.phi.eval()
        out = []
        for s in range(0, len(texts), self.batch_size):
            x = image_features[s:s + self.batch_size].to(self.clip.device)
            tokens = self.phi(F.normalize(x, dim=-1) if self.l2_normalize else x)
            ids = trim_to_eot(self.clip.tokenize([PROMPT.format(t) for t in texts[s:s + self.batch_size]]))
            out.append(self.clip.encode_text_with_pseudo_tokens(ids, tokens, placeholder="$", mode="all").float().cpu())
        return F.normalize(torch.cat(out), dim=-1)

    def queries(self, references: Sequence[str], texts: Sequence[str], image_path, load_image=None) -> torch.Tensor:
        names = sorted(set(references))
        feats = self.gallery(names, image_path, load_image)
        position = {n: i for i, n in enumerate(names)}
        return self.compose(feats[[position[r] for r in references]], texts)


def evaluate(enc: PhiQueryEncoder, dataset: str, root: str | os.PathLike, task: str | None = None
             ) -> tuple[dict[str, float], list[dict]]:
    """Validation metrics and predictions on one complete benchmark (`cirr`, `fashioniq`, `circo`, or `genecis`
    with a task); `common.zeroshot.evaluate` also gives the coverage and evaluates partial datasets."""
    metrics, rows, _ = zeroshot.evaluate(enc, dataset, root, task)
    return metrics, rows


def image_paths_of(reader, rows: list[dict]) -> dict[str, Path]:
    """Paths of every image a predictions table mentions (for the viewer)."""
    used = {n for r in rows for n in [r["reference"], *r["targets"], *r["ranked"]] if n}
    return {n: reader.image_path(n) for n in used}
