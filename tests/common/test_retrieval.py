"""Chunked top-k equals a full argsort, stays in bounded memory; image and text caches key on everything."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from common.retrieval import (encode_gallery, encode_texts, rank_gallery, rank_subsets, topk_cosine,
                              weights_fingerprint)


def _full_ranking(queries, gallery, exclude=None):
    sims = F.normalize(queries, dim=-1) @ F.normalize(gallery, dim=-1).T
    if exclude is not None:
        sims[torch.arange(len(queries)), exclude] = float("-inf")
    return sims.sort(dim=1, descending=True)


@pytest.mark.parametrize("chunk,query_chunk", [(7, 5), (64, 1024), (10_000, 3)])
def test_topk_matches_full_argsort(chunk, query_chunk):
    gen = torch.Generator().manual_seed(0)
    queries, gallery = torch.randn(37, 24, generator=gen), torch.randn(300, 24, generator=gen) * 3
    scores, indices = topk_cosine(queries, gallery, 50, chunk=chunk, query_chunk=query_chunk)
    ref_scores, ref_indices = _full_ranking(queries, gallery)
    assert torch.equal(indices, ref_indices[:, :50])
    assert torch.allclose(scores, ref_scores[:, :50], atol=1e-6)


def test_topk_excludes_each_querys_reference():
    gen = torch.Generator().manual_seed(1)
    gallery = torch.randn(40, 8, generator=gen)
    exclude = torch.tensor([3, 17, 39, 0])
    queries = gallery[exclude] + 0.01 * torch.randn(4, 8, generator=gen)  # reference would rank first
    _, indices = topk_cosine(queries, gallery, 10, exclude=exclude, chunk=16)
    assert not (indices == exclude[:, None]).any()
    _, ref_indices = _full_ranking(queries, gallery, exclude)
    assert torch.equal(indices, ref_indices[:, :10])


def test_topk_clamps_k_to_rankable_images():
    gallery = torch.randn(5, 4)
    _, indices = topk_cosine(torch.randn(2, 4), gallery, 50, exclude=torch.tensor([0, 1]))
    assert indices.shape == (2, 4)


def test_rank_gallery_and_rank_subsets_agree_with_full_ranking():
    gen = torch.Generator().manual_seed(2)
    names = [f"img{i}" for i in range(30)]
    gallery, queries = torch.randn(30, 6, generator=gen), torch.randn(3, 6, generator=gen)
    refs = ["img0", "img5", "img9"]
    groups = [["img0", "img1", "img2", "img3", "img4", "img20"], ["img5", "img6", "img7", "img8", "img21", "img22"],
              ["img9", "img10", "img11", "img12", "img13", "img14"]]
    full = rank_gallery(queries, gallery, names, 29, exclude_names=refs)
    subsets = rank_subsets(queries, gallery, names, groups, exclude_names=refs)
    for ranking, subset, group, ref in zip(full, subsets, groups, refs):
        assert ref not in ranking and len(ranking) == 29
        assert subset == [n for n in ranking if n in group]


def test_topk_memory_is_bounded_on_a_circo_sized_gallery():
    # 800 x 123,403 float scores alone would be ~395 MB (one unchunked pass measures ~400 MB here);
    # the chunked ranking (about 90 MB measured) must stay far below.
    script = textwrap.dedent("""
        import resource, torch
        from common.retrieval import topk_cosine
        torch.set_num_threads(1)
        gallery = torch.randn(123_403, 32)
        queries = torch.randn(800, 32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scores, indices = topk_cosine(queries, gallery, 50, exclude=torch.zeros(800, dtype=torch.long))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert indices.shape == (800, 50)
        print((after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    peak_growth_mb = int(out.stdout.strip())
    assert peak_growth_mb < 200, f"peak RSS grew by {peak_growth_mb} MB"


class FakeEncoder(torch.nn.Module):
    """Stands in for a ClipBackbone: preprocess + encode_image, counting encoded images."""

    name, backend = "fake-tiny", "test"

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3 * 4 * 4, 8)
        self.encoded = 0

    def preprocess(self, image):
        return torch.from_numpy(np.asarray(image.resize((4, 4)), dtype=np.float32)).permute(2, 0, 1) / 255

    def encode_image(self, images):
        self.encoded += images.shape[0]
        return self.proj(images.flatten(1))


@pytest.fixture
def image_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        Image.new("RGB", (8, 8), (40 * i, 10, 200 - 30 * i)).save(folder / f"im{i}.png")
    return folder


def test_gallery_cache_hit_and_miss_on_every_key_part(image_dir, tmp_path):
    torch.manual_seed(0)
    encoder, cache = FakeEncoder(), tmp_path / "cache"
    names = [f"im{i}" for i in range(6)]

    def encode(names=names, transform_id="pad1.25-4px", dtype=torch.float16):
        return encode_gallery(encoder, names, lambda n: image_dir / f"{n}.png", cache, transform_id,
                              batch_size=4, dtype=dtype)

    first = encode()
    assert first.shape == (6, 8) and first.dtype == torch.float32 and encoder.encoded == 6
    again = encode()
    assert encoder.encoded == 6 and torch.equal(first, again)  # hit
    encode(transform_id="clip-4px")
    assert encoder.encoded == 12  # preprocessing changed
    encode(names=list(reversed(names)))
    assert encoder.encoded == 18  # image list changed
    encode(dtype=torch.float32)
    assert encoder.encoded == 24  # dtype changed
    with torch.no_grad():
        encoder.proj.weight.add_(1.0)
    changed = encode()
    assert encoder.encoded == 30 and not torch.allclose(changed, first)  # weights changed
    assert not list(cache.glob(".*.tmp"))


def test_gallery_cache_recovers_from_a_corrupt_file(image_dir, tmp_path):
    encoder, cache = FakeEncoder(), tmp_path / "cache"
    names = ["im0", "im1"]
    encode_gallery(encoder, names, lambda n: image_dir / f"{n}.png", cache, "t", batch_size=2)
    (cache_file,) = cache.glob("gallery-*.pt")
    cache_file.write_bytes(b"garbage")
    features = encode_gallery(encoder, names, lambda n: image_dir / f"{n}.png", cache, "t", batch_size=2)
    assert encoder.encoded == 4 and features.shape == (2, 8)


def test_weights_fingerprint_follows_every_kind_of_weight_change():
    torch.manual_seed(0)
    encoder = FakeEncoder()
    first = weights_fingerprint(encoder)
    assert weights_fingerprint(encoder) == first  # memoised, same value
    twin = FakeEncoder()
    twin.load_state_dict(encoder.state_dict())
    assert weights_fingerprint(twin) == first  # content, not identity
    original_bias = encoder.proj.bias.detach().clone()
    with torch.no_grad():
        encoder.proj.bias.add_(1.0)  # in place
    second = weights_fingerprint(encoder)
    assert second != first
    encoder.proj.bias.data = original_bias.clone()  # storage replaced, back to the original values
    assert weights_fingerprint(encoder) == first
    encoder.load_state_dict({k: v + 1 for k, v in twin.state_dict().items()})
    assert weights_fingerprint(encoder) not in (first, second)


class FakeTextEncoder(FakeEncoder):
    """A FakeEncoder with a character-count tokenizer and a linear text tower, counting encoded texts."""

    context_length = 5

    def __init__(self):
        super().__init__()
        self.text_proj = torch.nn.Linear(5, 8)
        self.texts_encoded = 0

    def tokenize(self, texts):
        return torch.tensor([[float(t.count(c)) for c in "aeiou"] for t in texts])

    def encode_text(self, tokens):
        self.texts_encoded += tokens.shape[0]
        return self.text_proj(tokens)


def test_text_features_cache_hit_miss_and_exactness(tmp_path):
    torch.manual_seed(0)
    encoder, cache = FakeTextEncoder(), tmp_path / "cache"
    texts = ["a red dress", "is blue", "with long sleeves"]
    uncached = encode_texts(encoder, texts, None, batch_size=2)
    assert uncached.shape == (3, 8) and encoder.texts_encoded == 3
    first = encode_texts(encoder, texts, cache, batch_size=2)
    again = encode_texts(encoder, texts, cache, batch_size=2)
    assert encoder.texts_encoded == 6 and torch.equal(first, uncached) and torch.equal(again, first)
    assert len(list(cache.glob("text-*.pt"))) == 1 and not list(cache.glob("gallery-*.pt"))
    encode_texts(encoder, texts[::-1], cache)
    assert encoder.texts_encoded == 9  # text list changed
    with torch.no_grad():
        encoder.text_proj.weight.mul_(2.0)
    changed = encode_texts(encoder, texts, cache)
    assert encoder.texts_encoded == 12 and not torch.allclose(changed, first)  # weights changed
    with pytest.raises(ValueError, match="empty text list"):
        encode_texts(encoder, [], cache)
