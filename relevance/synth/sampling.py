"""Weighted random draws shared by every part of the generator."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from random import Random
from typing import Generic, TypeVar

T = TypeVar("T")


class WeightedTable(Generic[T]):
    """Items drawn with fixed relative weights in O(log n) (cumulative sums + bisect)."""

    __slots__ = ("_cum", "_total", "items")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self._cum: list[float] = []
        total = 0.0
        for item, weight in pairs:
            if weight <= 0:
                continue
            total += weight
            self.items.append(item)
            self._cum.append(total)
        if not self.items:
            raise ValueError("a weighted table needs at least one positive weight")
        self._total = total

    def draw(self, rng: Random) -> T:
        index = bisect.bisect_right(self._cum, rng.random() * self._total)
        return self.items[min(index, len(self.items) - 1)]


def pick(rng: Random, weights: dict[str, float]) -> str:
    """Draw a key of a small weight dict (linear scan, for option tables of a few entries)."""
    point = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        point -= weight
        if point < 0:
            return key
    return next(reversed(weights))
