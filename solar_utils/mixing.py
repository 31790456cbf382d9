"""Weighted, capped mixing of example pools (paper Table 1: per source, the total and the maximum used).

Shared by instruction tuning (:mod:`solar_utils.training.mixture`) and alignment
(:mod:`solar_utils.alignment.preferences`): :func:`split_heldout` keeps a seeded held-out slice of each source
apart, :func:`mix` caps each pool at ``max_used``, weights it and shuffles the union.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from solar_utils.config import MixtureSource
from solar_utils.records import Example, MixtureError


@dataclass(frozen=True)
class Mixture:
    """The examples of a variant (shuffled) and, per source, how many were available and how many used."""

    examples: list[Example]
    used: dict[str, int]
    available: dict[str, int]


def split_heldout(examples: list[Example], n: int, seed: int, name: str) -> tuple[list[Example], list[Example]]:
    """Shuffle ``examples`` with a per-source seed and keep the first ``n`` apart: ``(train, heldout)``."""
    if n >= len(examples):
        raise MixtureError(f"source {name!r} has {len(examples)} records, too few to hold out {n} "
                           "(lower the stage's heldout_per_source)")
    shuffled = examples[:]
    random.Random(f"{seed}:{name}").shuffle(shuffled)
    return shuffled[n:], shuffled[:n]


def mix(pools: dict[str, list[Example]], sources: list[MixtureSource], seed: int) -> Mixture:
    """Mix ``pools`` (already shuffled, by source name): each is capped at ``max_used``, then takes
    ``round(weight × capped)`` examples (a weight above 1 repeats the pool), and the union is shuffled."""
    examples: list[Example] = []
    used, available = {}, {}
    for source in sources:
        if source.weight < 0:
            raise MixtureError(f"source {source.name!r}: weight must be >= 0, got {source.weight}")
        capped = pools[source.name][: source.max_used]
        count = round(source.weight * len(capped))
        if capped:
            examples += [capped[i % len(capped)] for i in range(count)]
        used[source.name], available[source.name] = count if capped else 0, len(pools[source.name])
    random.Random(seed).shuffle(examples)
    return Mixture(examples, used, available)
