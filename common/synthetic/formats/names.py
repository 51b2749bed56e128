"""Unique, seeded identifiers in the style of each benchmark (ASINs, product ids, COCO ids)."""
from __future__ import annotations

import numpy as np

_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))


class UniqueIds:
    """Draws ids from a generator function until an unused one comes up."""

    def __init__(self, rng: np.random.Generator):
        self.rng, self.used = rng, set()

    def _unique(self, draw) -> str:
        while True:
            value = draw()
            if value not in self.used:
                self.used.add(value)
                return value

    def asin(self) -> str:
        """Amazon-style product id, e.g. B00A1XYZ9Q."""
        return self._unique(lambda: "B0" + "".join(self.rng.choice(_ALNUM, 8)))

    def number(self, low: int, high: int) -> int:
        return int(self._unique(lambda: int(self.rng.integers(low, high))))
