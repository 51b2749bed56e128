"""FTI4CIR's feature cache: patch tokens streamed into a memory-mapped float16 file, read back row by row."""
import numpy as np
import pytest
import torch
from PIL import Image

from common.clip.tiny import build_tiny_clip
from fti4cir.dataloader.features import PatchTokens, image_features


@pytest.fixture
def images(tmp_path):
    names = [f"im{i}" for i in range(5)]
    for i, name in enumerate(names):
        Image.new("RGB", (40, 30), (50 * i, 20, 250 - 40 * i)).save(tmp_path / f"{name}.png")
    return names, (lambda name: tmp_path / f"{name}.png")


def _counting(backbone):
    calls = []
    encode = backbone.encode_image

    def counted(x):
        calls.append(len(x))
        return encode(x)
    backbone.encode_image = counted
    return calls


def test_mmap_tokens_match_the_in_memory_extraction_and_are_read_from_the_cache(images, tmp_path):
    names, path = images
    clip = build_tiny_clip().eval()
    calls = _counting(clip)
    g_ref, p_ref = image_features(clip, names, path, clip.preprocess, "t", None, batch_size=2)
    assert isinstance(p_ref, torch.Tensor) and p_ref.dtype == torch.float32 and sum(calls) == 5
    cache = tmp_path / "cache"
    g, p = image_features(clip, names, path, clip.preprocess, "t", cache, batch_size=2, mmap_patches=True)
    assert isinstance(p, PatchTokens) and p.shape == p_ref.shape and len(p) == 5
    assert p.array.dtype == np.float16 and not p.array.flags.writeable  # file-backed, read-only
    assert torch.equal(p[torch.tensor([3, 1])], p_ref[[3, 1]])  # float16 storage, same values as in memory
    assert torch.equal(g, g_ref)
    assert sum(calls) == 10 and not list(cache.glob("*.tmp.npy"))
    again_g, again_p = image_features(clip, names, path, clip.preprocess, "t", cache, batch_size=2)
    assert sum(calls) == 10  # a cache hit encodes nothing
    assert isinstance(again_p, torch.Tensor) and torch.equal(again_p, p_ref) and torch.equal(again_g, g_ref)


def test_a_missing_token_file_or_cache_dir_is_handled(images, tmp_path):
    names, path = images
    clip = build_tiny_clip().eval()
    with pytest.raises(ValueError, match="mmap_patches needs a cache_dir"):
        image_features(clip, names, path, clip.preprocess, "t", None, mmap_patches=True)
    cache = tmp_path / "cache"
    image_features(clip, names, path, clip.preprocess, "t", cache, batch_size=4, mmap_patches=True)
    (tokens,) = cache.glob("*.patches.npy")
    tokens.unlink()  # e.g. a copy that lost a file: recomputed, never half-read
    calls = _counting(clip)
    _, p = image_features(clip, names, path, clip.preprocess, "t", cache, batch_size=4, mmap_patches=True)
    assert sum(calls) == 5 and len(p) == 5 and tokens.is_file()
