"""Small English helpers shared by every renderer, and seeded random streams."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def article(noun: str) -> str:
    """``noun`` with its indefinite article: "an owl", "a fox"."""
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def cap(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def join_and(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def stream(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream for one part of the world (str seeds hash with SHA-512)."""
    return random.Random(f"{seed}/{name}")


def cycle(rng: random.Random, items: Sequence[T]) -> Iterator[T]:
    """Endless passes over ``items``, each pass in a fresh random order: even coverage, no repeats within a pass."""
    pool = list(items)
    if not pool:
        raise ValueError("nothing to cycle over")
    while True:
        rng.shuffle(pool)
        yield from pool


def options(rng: random.Random, correct: str, pool: Sequence[str], k: int = 4) -> tuple[list[str], int]:
    """``k`` shuffled choices: ``correct`` plus ``k - 1`` distinct other values from ``pool``; and its index."""
    others = sorted({p for p in pool if p != correct})
    if len(others) < k - 1:
        raise ValueError(f"need {k - 1} distractors for {correct!r}, the pool has {len(others)}")
    choices = [correct, *rng.sample(others, k - 1)]
    rng.shuffle(choices)
    return choices, choices.index(correct)
