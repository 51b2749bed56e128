"""Training items over `common.data.ImageNetCaptions`: cached CLIP features of the image + its caption pair."""
from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from common.data import ImageCaptionPair


class PairFeatures(torch.utils.data.Dataset):
    """Item i = (global feature, patch tokens, subject, attribute) of caption pair i.

    `global_feat` [V, N, D] holds V views of the N images (V = 1: no augmentation) and `patches` their tokens,
    one [N, T, W] tensor or memory-mapped `PatchTokens` per view (a [V, N, T, W] tensor works too); item i draws
    one view uniformly, a function of (seed, epoch, i) (`set_epoch`), so a resumed run draws the same views.
    """

    def __init__(self, pairs: Sequence[ImageCaptionPair], names: Sequence[str], global_feat: torch.Tensor,
                 patches: Sequence, seed: int = 0):
        if global_feat.ndim != 3 or len(patches) != global_feat.shape[0]:
            raise ValueError(f"PairFeatures expects [views, images, D] features and one patch-token set per view, got "
                             f"{tuple(global_feat.shape)} and {len(patches)} sets")
        if len(names) != global_feat.shape[1] or any(len(view) != len(names) for view in patches):
            raise ValueError(f"{len(names)} image names for {global_feat.shape[1]} features")
        position = {name: i for i, name in enumerate(names)}
        missing = [p.image_id for p in pairs if p.image_id not in position]
        if missing:
            raise ValueError(f"no features for images {missing[:5]}")
        self.pairs = list(pairs)
        self.rows = [position[p.image_id] for p in self.pairs]
        self.global_feat, self.patches = global_feat, patches
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the views of `epoch` (call before iterating, as with a DistributedSampler)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        row, pair = self.rows[index], self.pairs[index]
        views = self.global_feat.shape[0]
        view = random.Random(hash((self.seed, self.epoch, index))).randrange(views) if views > 1 else 0
        return self.global_feat[view, row], self.patches[view][row].float(), pair.subject, pair.attribute

    @staticmethod
    def collate(items):
        global_feat, patches, subjects, attributes = zip(*items)
        return torch.stack(global_feat), torch.stack(patches), list(subjects), list(attributes)
