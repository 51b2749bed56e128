"""Tiny MAI builders shared by the MAI tests."""
import pytest

from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt, MAIConfig
from mai.models.tokenizer import build_word_vocab, load_tokenizer

WORDS = ("a red blue green dress shirt top with stripes dots is and keep the first second third "
         "s design color pattern i prefer change to longer shorter sleeves")


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    return load_tokenizer(build_word_vocab([WORDS], tmp_path_factory.mktemp("vocab") / "vocab.txt"))


@pytest.fixture()
def tiny_model(tiny_tokenizer):
    cfg = MAIConfig(vision_width=48, qformer="tiny", vocab_size=len(tiny_tokenizer), max_txt_len=32)
    return Blip2QformerCirAlignPrompt(cfg, tiny_tokenizer)


COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60), "black": (20, 20, 20)}
SHAPES = ("dress", "shirt", "skirt")


def _draw(path, colour, shape):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (64, 64), (240, 240, 240))
    d = ImageDraw.Draw(img)
    box = {"dress": (20, 8, 44, 60), "shirt": (10, 14, 54, 40), "skirt": (16, 30, 48, 60)}[shape]
    d.rectangle(box, fill=COLOURS[colour])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def write_tiny_fashionmt(root, seed: int = 0):
    """A FashionMT folder in the reader's layout: FC combination and 200k rollback subsets, 12 products each."""
    import json
    import random

    rng = random.Random(seed)
    products = [(c, s) for c in COLOURS for s in SHAPES]
    mt = root / "FashionMT"
    (mt / "modifiers").mkdir(parents=True, exist_ok=True)
    fc_caps = {}
    for i, (c, s) in enumerate(products):
        _draw(mt / "images" / f"p{i}" / "a.png", c, s)
        fc_caps[f"p{i}"] = f"a {c} {s}"
        _draw(mt / "images" / "200k" / f"q{i}_0.png", c, s)
        (mt / "captions" / "200k").mkdir(parents=True, exist_ok=True)
        (mt / "captions" / "200k" / f"q{i}.txt").write_text(f"a {c} {s}\n")
    (mt / "modifiers" / "FC-caption.json").write_text(json.dumps(fc_caps))
    fc_names = [f"p{i}/a.png" for i in range(len(products))]
    k_names = [f"200k/q{i}_0.png" for i in range(len(products))]
    (mt / "modifiers" / "FC_index_names.txt").write_text("\n".join(fc_names) + "\n")
    (mt / "modifiers" / "200k_index_names.txt").write_text("\n".join(k_names) + "\n")

    def sessions(names, n, kind):
        out = []
        for _ in range(n):
            a, b, c = rng.sample(range(len(products)), 3)
            if kind == "combination":  # tar3 = colour of FIRST, shape of SECOND
                d = products.index((products[a][0], products[b][1]))
                mod3 = f"1. is {products[d][0]} 4. keep the FIRST's color and keep the SECOND's design"
            else:  # rollback to FIRST or SECOND, then change the colour
                back = rng.choice((0, 1))
                base = (a, b)[back]
                d = products.index((rng.choice([x for x in COLOURS if x != products[base][0]]), products[base][1]))
                mod3 = f"I prefer the {('FIRST', 'SECOND')[back]}, and 1. is {products[d][0]} 2. is a {products[d][1]}"
            idx = (a, b, c, d)
            out.append({"ref": names[a], "tar1": names[b], "tar2": names[c], "tar3": names[d],
                        "mod1": f"1. is {products[b][0]} 2. is a {products[b][1]}",
                        "mod2": f"1. is {products[c][0]} 2. is a {products[c][1]}", "mod3": mod3,
                        **{f"cap{k}": "a {} {}".format(*products[j]) for k, j in enumerate(idx)}})
        return out

    for prefix, names, kind in (("FC", fc_names, "combination"), ("200k", k_names, "rollback")):
        (mt / "modifiers" / f"{prefix}_train_cap.json").write_text(json.dumps(sessions(names, 16, kind)))
        (mt / "modifiers" / f"{prefix}_test_cap.json").write_text(json.dumps(sessions(names, 6, kind)))
    return root


def write_tiny_clip(folder):
    """A random tiny ResNet CLIP saved as a synthetic-tiny folder (loadable with --clip-pretrained)."""
    import json

    import torch

    from common.clip import tiny_open_clip_config
    from common.clip.tiny import tiny_open_clip_state

    folder.mkdir(parents=True, exist_ok=True)
    config = tiny_open_clip_config("resnet")
    (folder / "synthetic-tiny.json").write_text(json.dumps(config))
    torch.save(tiny_open_clip_state(config), folder / "open_clip_model.pt")
    return folder


@pytest.fixture(scope="session")
def tiny_fashionmt(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    return write_tiny_fashionmt(root), write_tiny_clip(root / "clip")


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    """Every MAI test runs single-threaded (tests/conftest.py)."""


def shrink_single_turn(synthetic_root, root, per_split: int = 6):
    """A FashionIQ + CIRR copy of the synthetic data with `per_split` queries per file and only their images."""
    import json
    import os

    fiq, cirr = root / "fashion-iq", root / "cirr_dataset"
    for folder in (fiq / "captions", fiq / "image_splits", cirr / "cirr" / "captions", cirr / "cirr" / "image_splits"):
        folder.mkdir(parents=True, exist_ok=True)
    os.symlink(synthetic_root / "fashion-iq" / "images", fiq / "images")
    for category in ("dress", "shirt", "toptee"):
        for split in ("train", "val"):
            caps = json.loads((synthetic_root / "fashion-iq" / "captions" / f"cap.{category}.{split}.json").read_text())
            caps = caps[:per_split]
            names = list(dict.fromkeys(n for c in caps for n in (c["candidate"], c["target"])))
            (fiq / "captions" / f"cap.{category}.{split}.json").write_text(json.dumps(caps))
            (fiq / "image_splits" / f"split.{category}.{split}.json").write_text(json.dumps(names))
    for name in ("train", "dev"):
        os.symlink(synthetic_root / "cirr_dataset" / name, cirr / name)
    for split in ("train", "val"):
        caps = json.loads((synthetic_root / "cirr_dataset" / "cirr" / "captions" / f"cap.rc2.{split}.json").read_text())
        caps = caps[:per_split]
        paths = json.loads((synthetic_root / "cirr_dataset" / "cirr" / "image_splits" /
                            f"split.rc2.{split}.json").read_text())
        names = {n for c in caps for n in (c["reference"], c["target_hard"], *c["img_set"]["members"])}
        (cirr / "cirr" / "captions" / f"cap.rc2.{split}.json").write_text(json.dumps(caps))
        (cirr / "cirr" / "image_splits" / f"split.rc2.{split}.json").write_text(
            json.dumps({n: p for n, p in paths.items() if n in names}))
    return root
