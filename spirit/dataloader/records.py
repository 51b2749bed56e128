"""What the SPIRIT engine consumes, independent of the benchmark: training triplets and evaluation queries."""
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainTriplet:
    """Reference image, target image and the raw caption(s) a training text is composed from."""

    reference: str
    target: str
    captions: tuple[str, ...]


@dataclass
class TrainSet:
    """Training triplets plus the rule that turns a triplet's captions into one text (random for FashionIQ)."""

    triplets: list[TrainTriplet]
    compose: Callable[[tuple[str, ...], random.Random], str]
    variants: Callable[[tuple[str, ...]], tuple[str, ...]]  # every text `compose` can return for these captions

    def image_names(self) -> list[str]:
        return sorted({t.reference for t in self.triplets} | {t.target for t in self.triplets})

    def all_texts(self) -> list[str]:
        """Every training text, in a fixed order (encoding them up front keeps the features batch-independent)."""
        return list(dict.fromkeys(v for t in self.triplets for v in self.variants(t.captions)))


@dataclass
class EvalSet:
    """One evaluated query set over one gallery (a FashionIQ category, the Shoes val split, CIRR val/test1, ...).

    `targets[i]` lists every gallery name that counts as a hit (empty for unlabelled test queries);
    `groups[i]` is CIRR's candidate subset; `exclude_reference` removes the reference from the ranking.
    """

    name: str
    gallery: list[str]
    references: list[str]
    texts: list[str]
    targets: list[list[str]]
    exclude_reference: bool = False
    groups: list[list[str]] | None = None
    query_ids: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.references)
        for attr in ("texts", "targets", "groups", "query_ids"):
            value = getattr(self, attr)
            if value is not None and len(value) != n:
                raise ValueError(f"EvalSet {self.name}: {attr} has {len(value)} entries for {n} queries")

    def image_names(self) -> list[str]:
        return sorted(set(self.gallery) | set(self.references))
