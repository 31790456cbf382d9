"""Seed problems in the MATH schema: ``problem``, ``solution`` with a ``\\boxed{}`` answer, ``level``, ``type``, ``id``.

As in SOLAR, seeds come from MATH only, never from GSM8K, so that the synthetic data cannot leak the GSM8K test
set. At ``tiny`` they are the world's ``math/seeds.jsonl`` (written by notebook 00); at ``small``/``paper`` the
hub's MATH (Hendrycks et al., 2021, MIT licence). ``hendrycks/competition_math`` was taken down from the hub in
2024; ``EleutherAI/hendrycks_math`` (one config per subject) and ``qwedsacf/competition_math`` (one config) are
mirrors with the same columns. Set ``seed_dataset`` and ``seed_subsets`` in the preset to choose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solar_utils.config import MathSynthConfig
from solar_utils.data import hub_dataset, read_world_file
from solar_utils.mathsynth.verify import NO_BOXED, extract_boxed

FIELDS = ("problem", "solution", "level", "type")
WORLD_SEEDS = "math/seeds.jsonl"
"""The tiny world's seed file, relative to the world folder."""


class SeedError(ValueError):
    """A seed record that is not in the MATH schema; the message names the record."""


@dataclass(frozen=True)
class Seed:
    """One seed problem and the final answer of its reference solution."""

    id: str
    problem: str
    solution: str
    level: str
    type: str
    answer: str


def to_seeds(records: Iterable[dict[str, Any]]) -> tuple[list[Seed], dict[str, str]]:
    """Seeds from MATH-schema records, and ``{id: reason}`` for the records rejected (no boxed answer).

    A record without an ``id`` or a MATH field, or with a non-text field, is an error naming it.
    """
    seeds, rejected = [], {}
    for i, record in enumerate(records):
        name = record.get("id", f"record {i}")
        missing = [key for key in ("id", *FIELDS) if not isinstance(record.get(key), str)]
        if missing:
            raise SeedError(f"seed {name}: missing or non-text field(s) {missing}; MATH records need id, "
                            f"{', '.join(FIELDS)}")
        answer = extract_boxed(record["solution"])
        if answer is None:
            rejected[record["id"]] = NO_BOXED
            continue
        seeds.append(Seed(record["id"], record["problem"], record["solution"], record["level"], record["type"],
                          answer))
    return seeds, rejected


def read_world_seeds(world_dir: Path) -> list[dict[str, Any]]:
    """The records of ``<world>/math/seeds.jsonl`` (notebook 00 writes it)."""
    return read_world_file(world_dir, WORLD_SEEDS, "math seeds")


def read_hub_seeds(cfg: MathSynthConfig, loader: Callable[..., Iterable[dict]] | None = None) -> list[dict[str, Any]]:
    """MATH records from ``cfg.seed_dataset`` (each of ``cfg.seed_subsets``, or its default config), with ids
    ``<subset>/<split>/<row>``; ``loader`` defaults to ``datasets.load_dataset``."""
    if not cfg.seed_dataset:
        raise ValueError("mathsynth.seed_dataset is not set: name a MATH dataset on the hub, "
                         "e.g. EleutherAI/hendrycks_math")
    records = []
    for subset in cfg.seed_subsets or [None]:
        rows = hub_dataset(cfg.seed_dataset, subset, cfg.seed_split, loader=loader)
        records += [{**{key: row.get(key) for key in FIELDS}, "id": f"{subset or 'all'}/{cfg.seed_split}/{i:05d}"}
                    for i, row in enumerate(rows)]
    return records


def load_seeds(cfg: MathSynthConfig, world_dir: Path | None = None,
               loader: Callable[..., Iterable[dict]] | None = None) -> tuple[list[Seed], dict[str, str]]:
    """The seeds of the preset (world or hub), at most ``cfg.max_seeds``, and the rejected ``{id: reason}``."""
    if cfg.source == "world":
        if world_dir is None:
            raise ValueError("mathsynth.source is 'world': pass the world folder (stage.world_dir)")
        records = read_world_seeds(world_dir)
    else:
        records = read_hub_seeds(cfg, loader)
    return to_seeds(records[: cfg.max_seeds])
