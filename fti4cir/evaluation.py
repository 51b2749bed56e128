"""FTI4CIR as a `common.zeroshot.QueryEncoder`: CLIP gallery features and composed FTI4CIR queries."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from common.retrieval import encode_gallery
from fti4cir.dataloader.features import image_features
from fti4cir.models.fti_network import FTI4CIR
from fti4cir.models.prompts import encode_composed_query


@dataclass
class Retriever:
    """A frozen CLIP, a trained FTI4CIR and the preprocessing/caching settings of one evaluation run."""

    backbone: torch.nn.Module
    model: FTI4CIR
    transform: Callable
    transform_id: str
    cache_dir: Path | None
    batch_size: int = 64
    progress: Callable | None = None

    def gallery(self, names: Sequence[str], image_path: Callable[[str], Path], load_image=None) -> torch.Tensor:
        """CLIP image features [G, D] of the gallery (cached)."""
        return encode_gallery(self.backbone, names, image_path, self.cache_dir, self.transform_id, self.batch_size,
                              transform=self.transform, load_image=load_image, progress=self.progress)

    @torch.no_grad()
    def queries(self, references: Sequence[str], texts: Sequence[str], image_path: Callable[[str], Path],
                load_image=None) -> torch.Tensor:
        """L2-normalised composed features [Q, D]: "a photo of * with * ... * but {text}" per reference."""
        if load_image is not None:
            raise ValueError("FTI4CIR queries read whole image files; cropped images (GeneCIS) are not supported")
        names = sorted(set(references))
        position = {name: i for i, name in enumerate(names)}
        global_feat, patches = image_features(self.backbone, names, image_path, self.transform, self.transform_id,
                                              self.cache_dir, self.batch_size, progress=self.progress)
        device = self.backbone.device
        self.model.eval()
        out = []
        for start in range(0, len(references), self.batch_size):
            rows = torch.tensor([position[r] for r in references[start:start + self.batch_size]])
            words = self.model(global_feat[rows].to(device), patches[rows].to(device))
            out.append(encode_composed_query(self.backbone, words, texts[start:start + self.batch_size]).float())
        return F.normalize(torch.cat(out), dim=-1)
