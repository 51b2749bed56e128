"""Draws garment images (silhouette, colour, pattern, sleeves, neckline, length) and multi-object scenes."""
from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw

from common.synthetic.attributes import COLORS, Garment

Polygon = list[tuple[float, float]]
SHOE_CATEGORIES = ("sneaker", "boot", "heel", "flat")
LIGHT_COLORS = ("white", "yellow", "pink", "orange")


def _sleeves(sleeve: str, shoulder_y: float, left: float, right: float) -> list[Polygon]:
    if sleeve == "sleeveless":
        return []
    if sleeve == "short":
        return [[(left, shoulder_y), (left - 0.14, shoulder_y + 0.1), (left - 0.08, shoulder_y + 0.2), (left, shoulder_y + 0.14)],
                [(right, shoulder_y), (right + 0.14, shoulder_y + 0.1), (right + 0.08, shoulder_y + 0.2), (right, shoulder_y + 0.14)]]
    return [[(left, shoulder_y), (left - 0.2, shoulder_y + 0.42), (left - 0.12, shoulder_y + 0.45), (left, shoulder_y + 0.16)],
            [(right, shoulder_y), (right + 0.2, shoulder_y + 0.42), (right + 0.12, shoulder_y + 0.45), (right, shoulder_y + 0.16)]]


def _neck_cut(neckline: str, top: float) -> Polygon:
    if neckline == "v-neck":
        return [(0.39, top), (0.61, top), (0.5, top + 0.24)]
    return [(0.39 + 0.11 * (1 - np.cos(a)), top + 0.09 * np.sin(a)) for a in np.linspace(0, np.pi, 11)]


def _shapes(g: Garment) -> tuple[list[Polygon], list[Polygon], list[Polygon]]:
    """(filled parts, cut-outs, dark details) in unit coordinates."""
    c, long_ = g.category, g.get("length") == "long"
    parts: list[Polygon] = []
    cuts: list[Polygon] = []
    details: list[Polygon] = []
    if c in ("dress", "shirt", "toptee", "jacket"):
        top = 0.14
        left, right = {"toptee": (0.36, 0.64), "jacket": (0.29, 0.71)}.get(c, (0.33, 0.67))
        bottom = {"shirt": 0.68, "toptee": 0.5, "jacket": 0.78, "dress": 0.42}[c]
        parts.append([(left, top), (right, top), (right + 0.01, bottom), (left - 0.01, bottom)])
        parts += _sleeves(g.get("sleeve") or "long", top, left, right)
        if c == "dress":
            hem = 0.93 if long_ else 0.66
            spread = 0.2 if long_ else 0.13
            parts.append([(left, bottom - 0.02), (right, bottom - 0.02), (right + spread, hem), (left - spread, hem)])
        if g.get("neckline"):
            cuts.append(_neck_cut(g.get("neckline"), top))
        if c == "shirt":
            cuts.append([(0.45, top), (0.55, top), (0.5, top + 0.07)])
            details += [[(0.41, top - 0.02), (0.5, top + 0.07), (0.44, top + 0.1)],
                        [(0.59, top - 0.02), (0.5, top + 0.07), (0.56, top + 0.1)],
                        [(0.495, top + 0.08), (0.505, top + 0.08), (0.505, bottom), (0.495, bottom)]]
        if c == "jacket":
            cuts.append([(0.42, top), (0.58, top), (0.52, bottom), (0.48, bottom)])
            details += [[(0.33, top), (0.42, top), (0.47, top + 0.3)], [(0.67, top), (0.58, top), (0.53, top + 0.3)]]
    elif c == "pants":
        hem = 0.92 if long_ else 0.5
        parts += [[(0.33, 0.12), (0.67, 0.12), (0.67, 0.22), (0.33, 0.22)],
                  [(0.33, 0.2), (0.5, 0.2), (0.48, hem), (0.3, hem)],
                  [(0.5, 0.2), (0.67, 0.2), (0.7, hem), (0.52, hem)]]
        details.append([(0.33, 0.2), (0.67, 0.2), (0.67, 0.22), (0.33, 0.22)])
    elif c == "skirt":
        hem = 0.9 if long_ else 0.56
        spread = 0.18 if long_ else 0.12
        parts.append([(0.36, 0.18), (0.64, 0.18), (0.64 + spread, hem), (0.36 - spread, hem)])
        details.append([(0.36, 0.18), (0.64, 0.18), (0.64, 0.22), (0.36, 0.22)])
    elif c == "sneaker":
        parts.append([(0.12, 0.72), (0.2, 0.48), (0.48, 0.44), (0.62, 0.56), (0.86, 0.62), (0.88, 0.72)])
        details.append([(0.1, 0.72), (0.9, 0.72), (0.9, 0.8), (0.1, 0.8)])
    elif c == "boot":
        parts.append([(0.22, 0.14), (0.48, 0.14), (0.5, 0.56), (0.84, 0.64), (0.86, 0.74), (0.2, 0.74)])
        details.append([(0.18, 0.74), (0.88, 0.74), (0.88, 0.8), (0.18, 0.8)])
    elif c == "heel":
        parts.append([(0.14, 0.42), (0.3, 0.4), (0.5, 0.58), (0.86, 0.66), (0.88, 0.72), (0.5, 0.68), (0.24, 0.5), (0.18, 0.52)])
        details.append([(0.16, 0.5), (0.22, 0.5), (0.21, 0.82), (0.18, 0.82)])
    elif c == "flat":
        parts.append([(0.12, 0.6), (0.3, 0.56), (0.6, 0.6), (0.88, 0.64), (0.88, 0.72), (0.12, 0.72)])
        details.append([(0.1, 0.72), (0.9, 0.72), (0.9, 0.76), (0.1, 0.76)])
    else:
        raise ValueError(f"render: unknown category {c!r}")
    return parts, cuts, details


SCALES = (0.82, 0.88, 0.94, 1.0)


@functools.lru_cache(maxsize=4096)
def _pattern_mask(pattern: str, dy: int, dx: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) * (64.0 / size)
    if pattern == "striped":
        return ((yy + dy) % 7) < 3
    if pattern == "dotted":
        return (((yy + dy) % 8 - 4) ** 2 + ((xx + dx) % 8 - 4) ** 2) < 3.2
    if pattern == "checked":
        return (((yy + dy) // 5 + (xx + dx) // 5) % 2) == 0
    if pattern == "solid":
        return np.zeros((size, size), dtype=bool)
    raise ValueError(f"render: unknown pattern {pattern!r}")


def _draw(polygons: list[Polygon], size: int, scale: float) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        draw.polygon([((x - 0.5) * scale * size + size / 2, (y - 0.5) * scale * size + size / 2) for x, y in poly],
                     fill=255)
    return np.asarray(img) > 0


@functools.lru_cache(maxsize=4096)
def _shape_masks(g: Garment, scale: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred (garment mask, dark details, outline) for the garment's shape attributes."""
    parts, cuts, details = _shapes(g)
    mask = _draw(parts, size, scale) & ~_draw(cuts, size, scale)
    dark = _draw(details, size, scale)
    if g.category not in SHOE_CATEGORIES:
        dark &= mask
    edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
    return mask | dark, dark | edge, mask


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = a[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def render_garment(g: Garment, rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 [size, size, 3] on a random background, boolean garment mask [size, size])."""
    shape_key = Garment(g.category, tuple((n, v) for n, v in g.attrs if n not in ("color", "pattern")))
    silhouette, dark, _ = _shape_masks(shape_key, SCALES[int(rng.integers(len(SCALES)))], size)
    limit = max(1, round(0.06 * size))
    dy, dx = (int(v) for v in rng.integers(-limit, limit + 1, 2))
    silhouette, dark = _shift(silhouette, dy, dx), _shift(dark, dy, dx)
    base = np.array(COLORS[g.get("color")], dtype=np.float32) + rng.normal(0, 10, 3).astype(np.float32)
    second = np.array((20, 20, 20) if g.get("color") in LIGHT_COLORS else (245, 245, 245), dtype=np.float32)
    phase = rng.integers(0, 8, 2)
    pattern = _pattern_mask(g.get("pattern"), int(phase[0]), int(phase[1]), size)
    image = _background(size, size, rng)
    image[silhouette] = np.where(pattern[silhouette][:, None], second, base)
    image[dark] *= 0.35
    image += _noise(size, size, 6.0, rng)
    return np.clip(image, 0, 255).astype(np.uint8), silhouette


@functools.lru_cache(maxsize=16)
def _noise_bank(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(20261125).standard_normal((2 * height, 2 * width, 3), dtype=np.float32)


def _noise(height: int, width: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise: a random crop of a fixed noise bank (much faster than fresh samples)."""
    y, x = (int(v) for v in rng.integers(0, (height, width)))
    return _noise_bank(height, width)[y:y + height, x:x + width] * np.float32(sigma)


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    level = rng.uniform(150, 215)
    colour = (level + rng.uniform(-18, 18, 3)).astype(np.float32)
    ramp = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None] * np.float32(rng.uniform(-15, 15))
    image = np.empty((height, width, 3), dtype=np.float32)
    image[:] = colour + ramp
    return image


def render_scene(garments: list[Garment], rng: np.random.Generator, width: int = 128, height: int = 96,
                 item_size: int = 44) -> tuple[np.ndarray, list[list[int]]]:
    """A scene with the garments side by side; returns (RGB uint8 [height, width, 3], boxes [x, y, w, h])."""
    scene = _background(height, width, rng)
    boxes: list[list[int]] = []
    slot = width // max(len(garments), 1)
    for i, g in enumerate(garments):
        item, mask = render_garment(g, rng, item_size)
        x = int(i * slot + rng.integers(0, max(slot - item_size, 0) + 1)) if slot >= item_size else int(i * slot)
        x = min(x, width - item_size)
        y = int(rng.integers(0, height - item_size + 1))
        region = scene[y:y + item_size, x:x + item_size]
        region[mask] = item[mask]
        ys, xs = np.nonzero(mask)
        boxes.append([x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)])
    scene += _noise(height, width, 4.0, rng)
    return np.clip(scene, 0, 255).astype(np.uint8), boxes
