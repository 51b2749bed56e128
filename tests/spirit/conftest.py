"""A miniature benchmark in the real FashionIQ and CIRR formats plus a random micro CLIP, for fast entry-point tests."""
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "black": (10, 10, 10)}
SHAPES = ("square", "bar")
MICRO_CLIP = {"embed_dim": 32, "quick_gelu": True,
              "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def _image(path: Path, color: str, shape: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((32, 32, 3), 128, np.uint8)
    if shape == "square":
        pixels[8:24, 8:24] = COLORS[color]
    else:
        pixels[4:28, 12:20] = COLORS[color]
    Image.fromarray(pixels).save(path)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _images(prefix: str) -> dict[str, tuple[str, str]]:
    return {f"{prefix}{i}": (color, shape) for i, (color, shape) in
            enumerate((c, s) for c in COLORS for s in SHAPES)}


def write_mini_benchmark(root: Path, seed: int = 0) -> Path:
    rng = random.Random(seed)
    fiq = root / "fashion-iq"
    for category in ("dress", "shirt", "toptee"):
        for split in ("train", "val"):
            images = _images(f"{category}{split}")
            for name, (color, shape) in images.items():
                _image(fiq / "images" / f"{name}.png", color, shape)
            names = list(images)
            caps = []
            for _ in range(12 if split == "train" else 6):
                a, b = rng.sample(names, 2)
                caps.append({"candidate": a, "target": b, "captions": [f"is {images[b][0]}", f"is a {images[b][1]}."]})
            _write_json(fiq / "captions" / f"cap.{category}.{split}.json", caps)
            _write_json(fiq / "image_splits" / f"split.{category}.{split}.json", names)
    cirr = root / "cirr_dataset"
    for split, folder in (("train", "train/0"), ("val", "dev")):
        images = _images(f"{split}-")
        for name, (color, shape) in images.items():
            _image(cirr / folder / f"{name}.png", color, shape)
        names, caps = list(images), []
        for i in range(16 if split == "train" else 6):
            members = rng.sample(names, 6)
            caps.append({"pairid": i, "reference": members[0], "target_hard": members[1],
                         "target_soft": {members[1]: 1.0}, "caption": f"a {images[members[1]][0]} one",
                         "img_set": {"id": i, "members": members}})
        _write_json(cirr / "cirr" / "captions" / f"cap.rc2.{split}.json", caps)
        _write_json(cirr / "cirr" / "image_splits" / f"split.rc2.{split}.json", {n: f"./{folder}/{n}.png" for n in names})
    return root


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory) -> Path:
    return write_mini_benchmark(tmp_path_factory.mktemp("spirit_mini"))


@pytest.fixture(scope="session")
def micro_clip_dir(tmp_path_factory) -> Path:
    """A random open_clip model in the synthetic-tiny folder layout (load_clip("synthetic-tiny", pretrained=dir))."""
    import open_clip

    folder = tmp_path_factory.mktemp("micro_clip")
    torch.manual_seed(0)
    model = open_clip.model.CLIP(**MICRO_CLIP)
    (folder / "synthetic-tiny.json").write_text(json.dumps(MICRO_CLIP))
    torch.save(model.state_dict(), folder / "open_clip_model.pt")
    return folder
