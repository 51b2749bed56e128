"""ImageNet-style images with BLIP subject/attribute caption pairs (the FTI4CIR pre-training data).

Layout (``root`` is the ``imagenet/`` folder)::

    blip_pairs.json                        [{"img_id": "00000001", "subject": "a dog", "attribute": "sitting on grass"}]
    {split}/ILSVRC2012_{split}_{img_id}.JPEG      split "test" (FTI4CIR) or "val"

``pairs_file`` overrides the caption file (the original's ``--imgCaptionPath``). ``img_id`` must be a string, since
the zero padding is part of the file name. Pairs are read as written (the generator already dropped pairs whose
subject equals the attribute).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.data.base import BenchmarkReader
from common.data.parsing import check_choice, expect_list, get_field, load_json, require_dirs, unique

SPLITS = ("test", "val")


@dataclass(frozen=True)
class ImageCaptionPair:
    image_id: str
    subject: str
    attribute: str


class ImageNetCaptions(BenchmarkReader):
    """Caption pairs over ImageNet images; the gallery is the captioned images."""

    dataset = "imagenet"
    protocols = ("imagenet.pairs",)

    def __init__(self, root: str | Path, split: str = "test", pairs_file: str | Path | None = None,
                 check_images: bool = False):
        super().__init__(root, split)
        check_choice(split, SPLITS, self.root, "split")
        require_dirs(self.root, (split,), "ImageNet", "imagenet")
        self.pairs_file = Path(pairs_file) if pairs_file is not None else self.root / "blip_pairs.json"
        path = self.pairs_file
        self.queries = [ImageCaptionPair(get_field(entry, "img_id", str, path, f"[{i}]"),
                                         get_field(entry, "subject", str, path, f"[{i}]"),
                                         get_field(entry, "attribute", str, path, f"[{i}]"))
                        for i, entry in enumerate(expect_list(load_json(path), path))]
        if check_images:
            self.check_images()

    def gallery(self, protocol: str | None = None) -> list[str]:
        self.resolve_protocol(protocol)
        return unique(pair.image_id for pair in self.queries)

    def image_path(self, name: str) -> Path:
        return self.root / self.split / f"ILSVRC2012_{self.split}_{name}.JPEG"

    def _query_images(self) -> list[str]:
        return [pair.image_id for pair in self.queries]
