"""Fashion200k reader: label files, TIRG training-pair generation (FashionERN variant) and test queries.

Layout (``root`` is the ``fashion200k/`` folder)::

    labels/{dress,jacket,pants,skirt,top}_{train,test}_detect_all.txt   "<image path>\\t<detection score>\\t<caption>"
    test_queries.txt                                                   "<source image path> <target image path>"
    women/<category>/<subcategory>/<id>/<id>_<k>.jpeg                 (paths in the label files, relative to root)

Label files are ``labels/*_{split}_*.txt`` in sorted order; the detection score is ignored; captions are
post-processed as in TIRG (strip; ``.``->``dotmark``, ``?``->``questionmark``, ``&``->``andmark``, ``*``->``starmark``).
Split ``"val"`` means ``"test"`` (as in the original). Image names are the label-file paths.

Training pairs (``split="train"``), exactly as FashionERN's ``fashion200k_patch.py`` but seeded: a parent of caption
``c`` is ``c.replace(w, '')`` for each word ``w`` (every occurrence, even inside other words), then 4 spaces -> 1,
stripped; parents with >= 2 distinct child captions make their images modifiable; for every modifiable image in
order, ``n_modifications_per_image`` times: pick a random parent, a random child caption other than the image's,
a random image with that caption; keep the pair if the two captions' word sets differ and the unordered pair is
new; modifier ``"replace {source word} with {target word}"`` (first source word absent from the target caption,
first target word absent from the source; the last word when there is none). Finally the pairs are shuffled.
All draws come from one ``random.Random(seed)``, so the pairs are a deterministic function of the files and the seed.

Test queries: each line of ``test_queries.txt`` -> a pair with the same modifier rule. Protocol ``f200k.tirg``:
gallery = every label entry of the test split in file order (repeats kept, as the original), and a retrieved
image counts as a hit when its *caption* equals the target caption (``caption_of``).
Decisions: blank lines are skipped; a label line without 3 tab-separated fields, an empty caption, or a query
path missing from the label files is a format error; for a path listed twice the last caption wins (as in the
original's ``file2imgid``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from common.data.base import BenchmarkReader
from common.data.errors import DataFormatError
from common.data.parsing import check_choice, require_dirs

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Fashion200kImage:
    path: str
    caption: str


@dataclass(frozen=True)
class Fashion200kPair:
    """A query: reference image, target image, modifier text and the two (post-processed) captions."""

    reference: str
    target: str
    modifier: str
    reference_caption: str
    target_caption: str


def post_process_caption(caption: str) -> str:
    return (caption.strip().replace(".", "dotmark").replace("?", "questionmark")
            .replace("&", "andmark").replace("*", "starmark"))


def modifier_text(source_caption: str, target_caption: str) -> str:
    """TIRG's ``get_different_word``: ``"replace {first source-only word} with {first target-only word}"``."""
    source_words, target_words = source_caption.split(), target_caption.split()
    source_word = next((w for w in source_words if w not in target_words), source_words[-1])
    target_word = next((w for w in target_words if w not in source_words), target_words[-1])
    return f"replace {source_word} with {target_word}"


def parent_captions(caption: str) -> list[str]:
    """The captions one word shorter than ``caption`` as FashionERN builds them (see the module docstring)."""
    return [caption.replace(word, "").replace("    ", " ").strip() for word in caption.split()]


def generate_training_pairs(images: list[Fashion200kImage], rng: random.Random,
                            n_modifications_per_image: int = 5) -> tuple[list[Fashion200kPair], dict]:
    """TIRG/FashionERN training pairs over ``images``; returns the pairs and ``{"unique_captions", "modifiable_images"}``."""
    caption_to_images: dict[str, list[int]] = {}
    for i, image in enumerate(images):
        caption_to_images.setdefault(image.caption, []).append(i)
    children: dict[str, list[str]] = {}
    for caption in caption_to_images:
        for parent in parent_captions(caption):
            siblings = children.setdefault(parent, [])
            if caption not in siblings:
                siblings.append(caption)
    image_parents: list[list[str]] = [[] for _ in images]
    for parent, captions in children.items():
        if len(captions) >= 2:
            for caption in captions:
                for i in caption_to_images[caption]:
                    image_parents[i].append(parent)
    modifiable = [i for i, parents in enumerate(image_parents) if parents]
    word_sets = {caption: set(caption.split(" ")) for caption in caption_to_images}
    pairs: list[Fashion200kPair] = []
    visited: set[tuple[int, int]] = set()
    for i in modifiable:
        for _ in range(n_modifications_per_image):
            while True:
                caption = rng.choice(children[rng.choice(image_parents[i])])
                if caption != images[i].caption:
                    break
            j = rng.choice(caption_to_images[caption])
            source, target = images[i], images[j]
            if word_sets[source.caption] == word_sets[target.caption]:
                continue
            if (i, j) in visited or (j, i) in visited:
                continue
            visited.add((i, j))
            pairs.append(Fashion200kPair(source.path, target.path, modifier_text(source.caption, target.caption),
                                         source.caption, target.caption))
    rng.shuffle(pairs)
    return pairs, {"unique_captions": len(caption_to_images), "modifiable_images": len(modifiable)}


class Fashion200k(BenchmarkReader):
    """Fashion200k images of one split; ``.queries`` are generated training pairs (train) or the test queries."""

    dataset = "fashion200k"
    protocols = ("f200k.tirg",)

    def __init__(self, root: str | Path, split: str, seed: int = 0, n_modifications_per_image: int = 5,
                 check_images: bool = False):
        split = "test" if split == "val" else split
        super().__init__(root, split)
        require_dirs(self.root, ("labels",), "Fashion200k", "fashion200k")
        check_choice(split, SPLITS, self.root, "split")
        self.images = self._read_labels()
        self._captions = {image.path: image.caption for image in self.images}
        self.stats: dict = {}
        if split == "train":
            self.queries, self.stats = generate_training_pairs(self.images, random.Random(seed),
                                                               n_modifications_per_image)
        else:
            self.queries = self._read_test_queries()
        if check_images:
            self.check_images()

    def _read_labels(self) -> list[Fashion200kImage]:
        label_dir = self.root / "labels"
        files = sorted(label_dir.glob(f"*_{self.split}_*.txt"))
        if not files:
            raise DataFormatError(label_dir, f"*_{self.split}_*.txt", "no label file for this split")
        images = []
        for path in files:
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) < 3:
                        raise DataFormatError(path, f"line {number}",
                                              f"expected 3 tab-separated fields (path, score, caption), got {len(fields)}")
                    caption = post_process_caption(fields[2])
                    if not fields[0] or not caption:
                        raise DataFormatError(path, f"line {number}", "empty image path or caption")
                    images.append(Fashion200kImage(fields[0], caption))
        if not images:
            raise DataFormatError(label_dir, f"*_{self.split}_*.txt", "empty split (no entries)")
        return images

    def _read_test_queries(self) -> list[Fashion200kPair]:
        path = self.root / "test_queries.txt"
        if not path.is_file():
            raise DataFormatError(path, "file", "missing")
        queries = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                fields = line.split()
                if len(fields) != 2:
                    raise DataFormatError(path, f"line {number}", f"expected '<source path> <target path>', got {len(fields)} fields")
                for field in fields:
                    if field not in self._captions:
                        raise DataFormatError(path, f"line {number}", f"image {field!r} is not in the test label files")
                source, target = (self._captions[f] for f in fields)
                queries.append(Fashion200kPair(fields[0], fields[1], modifier_text(source, target), source, target))
        if not queries:
            raise DataFormatError(path, "file", "empty split (no entries)")
        return queries

    def caption_of(self, name: str) -> str:
        """The post-processed caption of an image (the f200k.tirg hit criterion compares these)."""
        if name not in self._captions:
            raise DataFormatError(self.root / "labels", name, f"image not in the {self.split} label files")
        return self._captions[name]

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return [image.path for image in self.images]

    def image_path(self, name: str) -> Path:
        return self.root / name

    def _query_images(self) -> list[str]:
        return [name for pair in self.queries for name in (pair.reference, pair.target)]
