"""Bounded-memory cosine top-k ranking, and image/text feature encoding with an on-disk cache."""
from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from common.checkpoint import CheckpointError, load_checkpoint, save_atomic
from common.data.errors import DataFormatError

CACHE_FORMAT = 1


def topk_cosine(queries: torch.Tensor, gallery: torch.Tensor, k: int, exclude: torch.Tensor | None = None,
                chunk: int = 8192, query_chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k gallery rows by cosine similarity for every query, in chunks with a running top-k.

    Peak extra memory is about `query_chunk x (chunk + 2k)` scores, never `Q x G`. `exclude[q]` is a
    gallery index removed from query q's ranking (CIRR's reference image; -1 for none). Returns
    `(scores [Q, k'], indices [Q, k'])` sorted by decreasing score, with k' = min(k, rankable images).
    """
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"topk_cosine: need queries [Q, D] and gallery [G, D], got {tuple(queries.shape)} "
                         f"and {tuple(gallery.shape)}")
    if k < 1:
        raise ValueError(f"topk_cosine: k must be >= 1, got {k}")
    num_gallery = gallery.shape[0]
    if exclude is not None and exclude.shape != (queries.shape[0],):
        raise ValueError(f"topk_cosine: exclude must be [Q]={queries.shape[0]}, got {tuple(exclude.shape)}")
    k = min(k, num_gallery - (1 if exclude is not None and bool((exclude >= 0).any()) else 0))
    if k < 1:
        raise ValueError("topk_cosine: the gallery has no image left to rank")
    all_scores, all_indices = [], []
    for q_start in range(0, queries.shape[0], query_chunk):
        q = F.normalize(queries[q_start:q_start + query_chunk].float(), dim=-1)
        q_exclude = exclude[q_start:q_start + query_chunk].to(q.device) if exclude is not None else None
        best_scores = q.new_empty((q.shape[0], 0))
        best_indices = torch.empty((q.shape[0], 0), dtype=torch.long, device=q.device)
        for g_start in range(0, num_gallery, chunk):
            g = F.normalize(gallery[g_start:g_start + chunk].to(q.device, torch.float32), dim=-1)
            sims = q @ g.T
            if q_exclude is not None:
                local = q_exclude - g_start
                rows = torch.nonzero((local >= 0) & (local < g.shape[0])).squeeze(1)
                sims[rows, local[rows]] = float("-inf")
            chunk_scores, chunk_idx = sims.topk(min(k, g.shape[0]), dim=1)
            merged_scores = torch.cat([best_scores, chunk_scores], dim=1)
            merged_indices = torch.cat([best_indices, chunk_idx + g_start], dim=1)
            best_scores, order = merged_scores.topk(min(k, merged_scores.shape[1]), dim=1)
            best_indices = merged_indices.gather(1, order)
        all_scores.append(best_scores)
        all_indices.append(best_indices)
    return torch.cat(all_scores), torch.cat(all_indices)


def rank_names(indices: torch.Tensor, names: Sequence[str]) -> list[list[str]]:
    """Map a `[Q, k]` index matrix to lists of gallery names."""
    return [[names[i] for i in row] for row in indices.tolist()]


def rank_gallery(queries: torch.Tensor, gallery: torch.Tensor, names: Sequence[str], k: int,
                 exclude_names: Sequence[str] | None = None, chunk: int = 8192) -> list[list[str]]:
    """Top-k gallery names per query; `exclude_names[q]` (e.g. the reference) is removed when in the gallery."""
    if len(names) != gallery.shape[0]:
        raise ValueError(f"rank_gallery: {len(names)} names for {gallery.shape[0]} gallery rows")
    exclude = None
    if exclude_names is not None:
        position = {name: i for i, name in enumerate(names)}
        exclude = torch.tensor([position.get(name, -1) for name in exclude_names], dtype=torch.long)
    _, indices = topk_cosine(queries, gallery, k, exclude=exclude, chunk=chunk)
    return rank_names(indices, names)


def rank_subsets(queries: torch.Tensor, gallery: torch.Tensor, names: Sequence[str],
                 groups: Sequence[Sequence[str]], exclude_names: Sequence[str] | None = None) -> list[list[str]]:
    """Rank each query's own candidate group (e.g. CIRR's 6 `img_set.members`) by cosine similarity.

    Equals the full ranking restricted to the group; `exclude_names[q]` (the reference) is dropped.
    """
    if len(groups) != queries.shape[0]:
        raise ValueError(f"rank_subsets: {len(groups)} groups for {queries.shape[0]} queries")
    position = {name: i for i, name in enumerate(names)}
    q = F.normalize(queries.float(), dim=-1)
    g = F.normalize(gallery.float(), dim=-1)
    ranked = []
    for i, group in enumerate(groups):
        members = [m for m in group if exclude_names is None or m != exclude_names[i]]
        missing = [m for m in members if m not in position]
        if missing:
            raise ValueError(f"rank_subsets: query {i}: group members {missing} are not in the gallery")
        scores = (g[[position[m] for m in members]] @ q[i]).tolist()
        order = sorted(range(len(members)), key=lambda j: -scores[j])  # stable: ties keep group order
        ranked.append([members[j] for j in order])
    return ranked


_FINGERPRINTS: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, str]]" = weakref.WeakKeyDictionary()


def _state_signature(state: dict[str, torch.Tensor]) -> tuple:
    """Identity of every tensor's storage and its in-place version counter: equal only if no weight was touched."""
    return tuple((name, t.data_ptr(), t._version, t.dtype, tuple(t.shape), t.device.type)
                 for name, t in sorted(state.items()))


def weights_fingerprint(module: torch.nn.Module) -> str:
    """blake2b over the module's state dict (names, dtypes, shapes, bytes): changes whenever a weight does.

    Memoised per live module: the hash is recomputed only when a tensor was replaced or modified in place
    (optimizer steps, `load_state_dict`, `.copy_()`, `.data` writes all bump a tensor's version counter), so
    repeated evaluations of one frozen backbone hash it once. Writes through a `.numpy()` view are not seen.
    """
    state = module.state_dict()
    signature = _state_signature(state)
    memo = _FINGERPRINTS.get(module)
    if memo is not None and memo[0] == signature:
        return memo[1]
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(state.items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    _FINGERPRINTS[module] = (signature, digest.hexdigest())
    return digest.hexdigest()


def names_fingerprint(names: Sequence[str]) -> str:
    """sha256 of the ordered image-name list."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def gallery_cache_key(backbone: torch.nn.Module, names: Sequence[str], transform_id: str,
                      dtype: torch.dtype, weights_id: str | None = None) -> dict[str, str]:
    """The parts that identify a cached gallery: backbone id, weight hash, preprocessing, image list, dtype."""
    backbone_id = f"{getattr(backbone, 'backend', type(backbone).__name__)}:{getattr(backbone, 'name', '')}"
    return {
        "format": str(CACHE_FORMAT),
        "backbone": backbone_id,
        "weights": weights_id or weights_fingerprint(backbone),
        "preprocessing": transform_id,
        "images": names_fingerprint(names),
        "dtype": str(dtype).replace("torch.", ""),
    }


def cache_file(cache_dir: str | Path, key: dict[str, str], kind: str = "gallery") -> Path:
    """`<cache_dir>/<kind>-<hash of key>.pt`."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return Path(cache_dir) / f"{kind}-{digest}.pt"


def _cached_features(path: Path, key: dict[str, str], field: str, items: Sequence[str]) -> torch.Tensor | None:
    """The features stored at `path` when it exists, reads, and was written for exactly `key` and `items`."""
    if not path.is_file():
        return None
    try:
        cached = load_checkpoint(path)
    except (CheckpointError, OSError):  # corrupt or half-copied: recompute and overwrite
        return None
    if not isinstance(cached, dict) or cached.get("key") != key or cached.get(field) != list(items):
        return None
    return cached["features"]


class _ImageListDataset(torch.utils.data.Dataset):
    def __init__(self, names: Sequence[str], load: Callable[[str], Image.Image],
                 transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.names, self.load, self.transform = list(names), load, transform

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.load(self.names[i]))


def open_rgb(path: Path) -> Image.Image:
    """Open an image as RGB; a truncated or non-image file raises a one-line error naming it."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError) as err:  # truncated file or not an image at all
        raise DataFormatError(path, "image", f"unreadable ({err})") from None


@torch.no_grad()
def encode_gallery(backbone: torch.nn.Module, names: Sequence[str], image_path_fn: Callable[[str], Path],
                   cache_dir: str | Path | None, transform_id: str, batch_size: int = 64, *,
                   transform: Callable[[Image.Image], torch.Tensor] | None = None,
                   load_image: Callable[[str], Image.Image] | None = None,
                   dtype: torch.dtype = torch.float16, num_workers: int = 0,
                   device: str | torch.device | None = None,
                   progress: Callable | None = None, weights_id: str | None = None) -> torch.Tensor:
    """`backbone.encode_image` features [N, D] (float32, not normalised) of `names`, cached on disk.

    The cache key is the backbone id, a hash of its current weights, `transform_id` (name every
    preprocessing choice in it: transform kind, size, pad ratio, crops), the image-list hash and the
    storage `dtype`; any change means a new file, never a stale one. Files are written atomically.
    `transform` defaults to `backbone.preprocess`; `load_image(name)` to opening `image_path_fn(name)`.
    `cache_dir=None` disables caching. `weights_id` (a `weights_fingerprint(backbone)` computed earlier)
    saves re-hashing a large model for every gallery; it must describe the backbone's current weights.
    """
    if len(names) == 0:
        raise ValueError("encode_gallery: empty image list")
    path = key = None
    if cache_dir is not None:
        key = gallery_cache_key(backbone, names, transform_id, dtype, weights_id)
        path = cache_file(cache_dir, key)
        cached = _cached_features(path, key, "names", names)
        if cached is not None:
            return cached.float()
    device = torch.device(device) if device is not None else next(backbone.parameters()).device
    loader = torch.utils.data.DataLoader(
        _ImageListDataset(names, load_image or (lambda name: open_rgb(image_path_fn(name))),
                          transform or backbone.preprocess),
        batch_size=batch_size, shuffle=False, num_workers=num_workers)
    was_training = backbone.training
    backbone.eval()
    batches = []
    try:
        for images in (progress(loader, desc="encode gallery") if progress else loader):
            batches.append(backbone.encode_image(images.to(device)).to("cpu", dtype))
    finally:
        backbone.train(was_training)
    features = torch.cat(batches)
    if path is not None:
        save_atomic({"key": key, "names": list(names), "features": features}, path)
    return features.float()


@torch.no_grad()
def encode_texts(backbone: torch.nn.Module, texts: Sequence[str], cache_dir: str | Path | None,
                 batch_size: int = 256, weights_id: str | None = None) -> torch.Tensor:
    """`backbone.encode_text` features [N, D] (float32, not normalised) of `texts`, cached on disk like galleries.

    Key: backbone id, weight hash, tokenizer context length, the ordered text list; stored in float32, so a
    cached run returns exactly what the first run computed. `cache_dir=None` disables caching.
    """
    if len(texts) == 0:
        raise ValueError("encode_texts: empty text list")
    path = key = None
    if cache_dir is not None:
        key = gallery_cache_key(backbone, texts, f"text:context{getattr(backbone, 'context_length', '')}",
                                torch.float32, weights_id)
        path = cache_file(cache_dir, key, kind="text")
        cached = _cached_features(path, key, "texts", texts)
        if cached is not None:
            return cached
    device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    try:
        features = torch.cat([backbone.encode_text(backbone.tokenize(list(texts[i:i + batch_size])).to(device))
                              .float().cpu() for i in range(0, len(texts), batch_size)])
    finally:
        backbone.train(was_training)
    if path is not None:
        save_atomic({"key": key, "texts": list(texts), "features": features}, path)
    return features
