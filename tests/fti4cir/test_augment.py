"""FTI4CIR training augmentation: deterministic label-preserving views and per-item view draws."""
import numpy as np
import pytest
import torch
from PIL import Image

from common.data import ImageCaptionPair
from fti4cir.dataloader.features import RandomView
from fti4cir.dataloader.imagenet_pairs import PairFeatures


def _image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))


def test_views_are_reproducible_crops_or_flips_of_the_image():
    image = _image()
    first, again = RandomView(seed=3, view=1)(image, index=7), RandomView(seed=3, view=1)(image, index=7)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    views = [np.asarray(RandomView(seed=3, view=v)(image, index=7)) for v in range(1, 9)]
    assert len({v.tobytes() for v in views}) == len(views)  # views differ from each other
    original = np.asarray(image)
    for view in views:
        h, w = view.shape[:2]
        assert 0.8 * 40 - 1 <= h <= 40 and 0.8 * 50 - 1 <= w <= 50
        # a crop of the image or of its mirror: some window of the original holds exactly these pixels
        found = any(np.array_equal(candidate[top:top + h, left:left + w], view)
                    for candidate in (original, original[:, ::-1])
                    for top in range(40 - h + 1) for left in range(50 - w + 1))
        assert found


def test_view_zero_is_refused():
    with pytest.raises(ValueError, match="view 0"):
        RandomView(seed=0, view=0)


def test_items_draw_every_view_over_epochs_and_keep_their_caption():
    pairs = [ImageCaptionPair("a", "a dress", "in red"), ImageCaptionPair("b", "a shirt", "in blue")]
    global_feat = torch.arange(3.0)[:, None, None].expand(3, 2, 4).clone()  # view v -> value v
    patches = torch.zeros(3, 2, 5, 6)
    dataset = PairFeatures(pairs, ["b", "a"], global_feat, patches, seed=4)
    seen = []
    for epoch in range(60):
        dataset.set_epoch(epoch)
        seen.append(float(dataset[0][0][0]))
        assert float(dataset[0][0][0]) == seen[-1]  # the same item in the same epoch: the same view (resumable)
    assert set(seen) == {0.0, 1.0, 2.0}
    torch.manual_seed(0)
    dataset.set_epoch(7)
    first = float(dataset[0][0][0])
    torch.manual_seed(1)  # torch's global RNG (dropout) plays no part
    assert float(dataset[0][0][0]) == first
    assert dataset[1][2:] == ("a shirt", "in blue")
    with pytest.raises(ValueError, match="views"):
        PairFeatures(pairs, ["b", "a"], global_feat[0], patches[0])
