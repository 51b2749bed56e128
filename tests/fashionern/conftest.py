"""A micro FashionIQ and CIRR written in their on-disk formats, and a random tiny CLIP folder, for entry-point tests."""
import json
import random

import pytest
import torch
from PIL import Image

from common.clip.tiny import tiny_open_clip_config, tiny_open_clip_state

COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "black": (10, 10, 10)}


def _image(path, color):
    Image.new("RGB", (40, 50), COLORS[color]).save(path)


@pytest.fixture(scope="session")
def micro_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashionern_data")
    rng = random.Random(0)
    fiq = root / "fashion-iq"
    for folder in ("captions", "image_splits", "images"):
        (fiq / folder).mkdir(parents=True)
    for cat in ("dress", "shirt", "toptee"):
        for split in ("train", "val"):
            names = [(f"{cat}{split}{i}", rng.choice(list(COLORS))) for i in range(6)]
            for name, color in names:
                _image(fiq / "images" / f"{name}.png", color)
            caps = [{"candidate": a, "target": b, "captions": [f"is {cb}", f"make it {cb}."]}
                    for (a, _), (b, cb) in zip(names, names[1:] + names[:1])]
            (fiq / "captions" / f"cap.{cat}.{split}.json").write_text(json.dumps(caps))
            (fiq / "image_splits" / f"split.{cat}.{split}.json").write_text(json.dumps([n for n, _ in names]))
    cirr = root / "cirr_dataset"
    for split, folder, count in (("train", "train/0", 6), ("val", "dev", 6), ("test1", "test1", 54)):
        (cirr / folder).mkdir(parents=True)
        names = [(f"{split}-{i}-img0", rng.choice(list(COLORS))) for i in range(count)]
        for name, color in names:
            _image(cirr / folder / f"{name}.png", color)
        caps = []
        for i, (ref, _) in enumerate(names):
            group = [n for n, _ in names[i - i % 6:i - i % 6 + 6]]
            tgt_index = i - i % 6 + (i + 1) % 6
            tgt, color = names[tgt_index]
            entry = {"pairid": i, "reference": ref, "caption": f"make it {color}",
                     "img_set": {"id": i // 6, "members": group, "reference_rank": i % 6}}
            if split != "test1":
                entry.update(target_hard=tgt, target_soft={tgt: 1.0})
                entry["img_set"]["target_rank"] = tgt_index % 6
            caps.append(entry)
        (cirr / "cirr" / "captions").mkdir(parents=True, exist_ok=True)
        (cirr / "cirr" / "image_splits").mkdir(parents=True, exist_ok=True)
        (cirr / "cirr" / "captions" / f"cap.rc2.{split}.json").write_text(json.dumps(caps))
        (cirr / "cirr" / "image_splits" / f"split.rc2.{split}.json").write_text(
            json.dumps({n: f"./{folder}/{n}.png" for n, _ in names}))
    return root


@pytest.fixture(scope="session")
def micro_clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashionern_clip")
    config = tiny_open_clip_config("vit")
    (folder / "synthetic-tiny.json").write_text(json.dumps(config))
    torch.save(tiny_open_clip_state(config, 0), folder / "open_clip_model.pt")
    return folder
