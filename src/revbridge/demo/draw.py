"""The generator's random draws: a seeded Mersenne Twister behind the few draws it makes.

``random.Random.randint`` and ``choices`` cost several microseconds each, and a day at default
volume makes millions of draws, so these are built on ``random()`` alone (one 53-bit float per
draw, the same numbers on every platform and Python version). A seed is text, hashed by
``random.seed`` with SHA-512 (never by ``hash()``, which changes between processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import TypeVar

T = TypeVar("T")


class Draw:
    __slots__ = ("_random",)

    def __init__(self, seed: str) -> None:
        self._random = Random(seed).random

    def chance(self, probability: float) -> bool:
        return self._random() < probability

    def fraction(self) -> float:
        return self._random()

    def between(self, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high``, both included."""
        return low + int(self._random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self._random() * len(items))]

    def weighted(self, weights: Sequence[tuple[T, int]]) -> T:
        """One of the items, each as likely as its weight."""
        point = self._random() * sum(w for _, w in weights)
        for item, weight in weights:
            point -= weight
            if point < 0:
                return item
        return weights[-1][0]
