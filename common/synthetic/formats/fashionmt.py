"""FashionMT: 4-image, 3-turn sessions (combination: FC, Fiq; rollback: 200k, shoes), index and caption files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.synthetic.attributes import CLOTHES, SHOES, VALUES, Garment, neighbour, random_garment
from common.synthetic.captions import (NOUNS, attribute_phrase, attribute_words, canonical_caption, change_phrases,
                                       words_caption)
from common.synthetic.formats.names import UniqueIds
from common.synthetic.io import ImageStore, write_json, write_lines

SESSIONS = {"train": 60, "test": 30}  # per subset at scale 1
GALLERY_DISTRACTORS = 60
ORDINALS = ("FIRST", "SECOND", "THIRD")
ROLLBACK_PREFIXES = ("Compared to this one I prefer the {}, and ", "I would rather choose the {}, and ",
                     "I prefer the {}, and ")
SHOES_PREFIX = "I like the {} better, and "
# subset -> (file prefix, categories, kind)
SUBSETS = {"fc": ("FC", CLOTHES, "combination"), "fiq": ("Fiq", ("dress", "shirt", "toptee"), "combination"),
           "200k": ("200k", ("dress", "jacket", "pants", "skirt", "toptee"), "rollback"),
           "shoes": ("shoes", SHOES, "rollback")}
F200K_FOLDERS = {"dress": "dresses", "jacket": "jackets", "pants": "pants", "skirt": "skirts", "toptee": "tops"}


def numbered(phrases: list[str]) -> str:
    """The modifier layout of the original post-processing: "1. a 2. b 3. c " (trailing space)."""
    return "".join(f"{i}. {p} " for i, p in enumerate(phrases, start=1))


def combination_target(history: list[Garment], rng: np.random.Generator) -> tuple[Garment, list[list[str]]]:
    """tar3 keeping one attribute of the FIRST and one of the SECOND image that the latest image lost,
    sometimes with a new value elsewhere; returns it and, per history image, the attributes it shares."""
    first, second, latest = history
    changes: dict[str, str] = {}
    for source in (first, second):
        lost = [n for n, v in source.attrs if v != latest.get(n) and n not in changes]
        if lost:
            name = lost[int(rng.integers(len(lost)))]
            changes[name] = source.get(name)
    free = [n for n, _ in latest.attrs if n not in changes]
    if free and (not changes or rng.random() < 0.5):
        name = free[int(rng.integers(len(free)))]
        options = [v for v in VALUES[name] if v not in {g.get(name) for g in history}]
        if options:
            changes[name] = options[int(rng.integers(len(options)))]
    target = latest.with_changes(**changes)
    shared = [[n for n, v in target.attrs if g.get(n) == v] for g in history]
    return target, shared


def combination_modifier(history: list[Garment], target: Garment, shared: list[list[str]], subset: str,
                         rng: np.random.Generator) -> str:
    """Differ clauses (what is new relative to every earlier image) + the template keep clause."""
    novel = [n for n, v in target.attrs if all(g.get(n) != v for g in history)]
    phrases = [attribute_phrase(n, history[-1].get(n), target.get(n), rng) for n in novel]
    phrases.append(f"is a {NOUNS[target.category]}")
    word = ("design", "feature", "design")[int(rng.integers(3))]
    sources = 2 if subset == "fc" else 3
    keeps = [(ORDINALS[i], attribute_words(target, shared[i])) for i in range(sources) if shared[i]]
    if subset == "fc":
        keep = " and ".join(f"keep the {who}'s {words} {word}" for who, words in keeps)
    else:
        keep = "keep " + ", ".join(f"the {who}'s {words} {word}" for who, words in keeps[:-1])
        keep = (keep + (" and " if len(keeps) > 1 else "") + f"the {keeps[-1][0]}'s {keeps[-1][1]} {word}")
    return numbered(phrases + [keep])


class _Images:
    """Names, renders and captions images the way each FashionMT source names them."""

    def __init__(self, root: Path, rng: np.random.Generator):
        self.store = ImageStore(root / "images", rng)
        self.ids, self.rng, self.root = UniqueIds(rng), rng, root
        self.captions: dict[str, str] = {}
        self.fc_titles: dict[str, str] = {}
        self.shoe_counter = 0

    def add(self, subset: str, garment: Garment) -> str:
        if subset == "fc":
            product = str(self.ids.number(100_000, 1_000_000))
            name = f"{product}/{int(self.rng.integers(4))}.jpg"
            caption = canonical_caption(garment)[2:]
            self.fc_titles[product] = caption
        elif subset == "fiq":
            asin = self.ids.asin()
            name = f"fashion-iq/{asin}.png"
            caption = canonical_caption(garment)
            self._caption_file("fiq", f"{asin}.txt", caption)
        elif subset == "200k":
            product = self.ids.number(10_000_000, 100_000_000)
            folder = F200K_FOLDERS[garment.category]
            name = f"fashion200k/women/{folder}/{garment.get('pattern')}_{folder}/{product}/{product}_0.jpeg"
            caption = words_caption(garment)
            self._caption_file("200k", f"{product}.txt", caption)
        else:
            self.shoe_counter += 1
            basename = f"img_shoes_{self.shoe_counter}.jpg"
            name = f"shoes/women/{basename}"
            caption = canonical_caption(garment)
            self._caption_file("shoes", basename.replace("jpg", "txt"), caption)
        self.captions[name] = caption
        return self.store.add(name, name, garment)

    def _caption_file(self, subset: str, file_name: str, caption: str) -> None:
        path = self.root / "captions" / subset / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(caption + "\n")


def _session(images: _Images, subset: str, rng: np.random.Generator) -> dict[str, str]:
    _, categories, kind = SUBSETS[subset]
    ref = random_garment(rng, categories)
    tar1 = neighbour(ref, rng, 2)
    tar2 = neighbour(tar1, rng, 2)
    history = [ref, tar1, tar2]
    if kind == "combination":
        tar3, shared = combination_target(history, rng)
        if tar3 in history:
            tar3 = neighbour(tar3, rng, 1)
            shared = [[n for n, v in tar3.attrs if g.get(n) == v] for g in history]
        mod3 = combination_modifier(history, tar3, shared, subset, rng)
    else:
        back = int(rng.integers(2))
        tar3 = neighbour(history[back], rng, 1 + int(rng.random() < 0.5))
        while tar3 in history:
            tar3 = neighbour(history[back], rng, 2)
        prefixes = ROLLBACK_PREFIXES + ((SHOES_PREFIX,) if subset == "shoes" else ())
        prefix = prefixes[int(rng.integers(len(prefixes)))].format(ORDINALS[back])
        mod3 = prefix + numbered(change_phrases(history[back], tar3, rng))
    names = [images.add(subset, g) for g in (ref, tar1, tar2, tar3)]
    record = {"ref": names[0], "tar1": names[1], "tar2": names[2], "tar3": names[3],
              "mod1": numbered(change_phrases(ref, tar1, rng)), "mod2": numbered(change_phrases(tar1, tar2, rng)),
              "mod3": mod3}
    record.update({f"cap{k}": images.captions[name] for k, name in enumerate(names)})
    return record


def write_fashionmt(root: Path, rng: np.random.Generator, scale: int) -> None:
    """Writes sessions, index files and gallery captions for the four subsets."""
    images = _Images(root, rng)
    for subset, (prefix, categories, _) in SUBSETS.items():
        gallery: list[str] = []
        for split, per_scale in SESSIONS.items():
            sessions = [_session(images, subset, rng) for _ in range(per_scale * scale)]
            part = "val" if (split == "test" and subset == "fiq") else split
            write_json(root / "modifiers" / f"{prefix}_{part}_cap.json", sessions)
            if split == "test":
                gallery = [s[k] for s in sessions for k in ("ref", "tar1", "tar2", "tar3")]
        gallery += [images.add(subset, random_garment(rng, categories)) for _ in range(GALLERY_DISTRACTORS * scale)]
        gallery = [gallery[i] for i in rng.permutation(len(gallery))]
        if subset == "fiq":
            gallery = [name.split("/")[1].split(".png")[0] for name in gallery]
        write_lines(root / "modifiers" / f"{prefix}_index_names.txt", gallery)
    write_json(root / "modifiers" / "FC-caption.json", images.fc_titles)
