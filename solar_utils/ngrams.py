"""Word n-gram matching between texts: the one index behind every contamination and held-out check.

Conventions follow lm-eval's decontamination (its ``Janitor``): lower-case, punctuation removed, whitespace-split
words; a query shorter than ``n`` words matches when its whole word sequence occurs. The index hashes every
window of the indexed words (per text, never across texts) with a 64-bit polynomial rolling hash in numpy, so
building it over ~1M words takes a fraction of a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

_PUNCT = re.compile(r"[^\w\s]")
_BASE = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_UNKNOWN = (1 << 62) + 1


def normalise(text: str) -> list[str]:
    """Lower-cased words with punctuation removed."""
    return _PUNCT.sub("", text.lower()).split()


class NgramIndex:
    """Every word window of size ``min(n, len(query))`` in ``texts``; ``contains`` asks about one word list."""

    def __init__(self, texts: Iterable[str], n: int) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.vocab: dict[str, int] = {}
        ids: list[int] = []
        for text in texts:
            ids.extend(self.vocab.setdefault(w, len(self.vocab) + 1) for w in normalise(text))
            ids.append(0)
        self._ids = np.array(ids, dtype=np.uint64)
        self._breaks = np.concatenate([[0], np.cumsum(self._ids == 0)])
        self._by_size: dict[int, np.ndarray] = {}

    def _hashes(self, size: int) -> np.ndarray:
        if size not in self._by_size:
            count = len(self._ids) - size + 1
            h = np.zeros(max(count, 0), dtype=np.uint64)
            for j in range(size):
                h = h * np.uint64(_BASE) + self._ids[j: j + count]
            clean = self._breaks[size: size + count] == self._breaks[:count]
            self._by_size[size] = np.sort(h[clean])
        return self._by_size[size]

    def contains(self, words: list[str]) -> bool:
        """Whether any window of ``words`` (of size ``min(n, len(words))``) occurs in the training text."""
        if not words:
            return False
        size = min(self.n, len(words))
        prefix = [0]
        for w in words:
            prefix.append((prefix[-1] * _BASE + self.vocab.get(w, _UNKNOWN)) & _MASK)
        shift = pow(_BASE, size, 1 << 64)
        grams = np.array([(prefix[i + size] - prefix[i] * shift) & _MASK for i in range(len(words) - size + 1)],
                         dtype=np.uint64)
        table = self._hashes(size)
        if not len(table):
            return False
        found = np.minimum(np.searchsorted(table, grams), len(table) - 1)
        return bool(np.any(table[found] == grams))
