"""Instruction-data mixtures (paper Table 1, Table 3's variants): every source's examples, held-out slices, and
each variant's weighted, capped mixture, with the replayed pretraining documents (ours, not the paper's).

The records and their chat form come from :mod:`solar_utils.records`, the mixer from :mod:`solar_utils.mixing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from solar_utils.config import REPLAY, InstructConfig, MixtureSource
from solar_utils.data import load_texts
from solar_utils.mixing import Mixture, mix, split_heldout
from solar_utils.records import Example, MixtureError, convert, read_records, skipped_note


@dataclass(frozen=True)
class Pools:
    """Each available source's training examples (shuffled), the held-out examples of all of them, a note
    for every optional source that was skipped because its file does not exist, and the replayed documents as
    plain-text examples (an empty prompt, the document as completion)."""

    train: dict[str, list[Example]]
    heldout: list[Example]
    notes: list[str]
    replay: list[Example]


def load_pools(cfg: InstructConfig, world_dir: Path | None, run_dir: Path | None, seed: int,
               keep: Callable[[dict], bool] | None = None) -> Pools:
    """Read and convert every source of ``cfg`` (the records ``keep`` holds for: the run's
    :class:`~solar_utils.benchmark_filter.BenchmarkFilter`), holding ``cfg.heldout_per_source`` examples of each
    apart."""
    train: dict[str, list[Example]] = {}
    heldout: list[Example] = []
    notes = []
    for source in cfg.sources:
        records = read_records(source, world_dir, run_dir, extra=cfg.heldout_per_source, keep=keep)
        if records is None:
            notes.append(skipped_note(source))
            continue
        train[source.name], kept = split_heldout(convert(records, source), cfg.heldout_per_source, seed, source.name)
        heldout += kept
    docs = load_texts(cfg.replay, world_dir and Path(world_dir)) if cfg.replay is not None else []
    return Pools(train, heldout, notes, [{"prompt": "", "completion": doc} for doc in docs])


def variant_mixture(cfg: InstructConfig, variant: str, pools: Pools, seed: int) -> Mixture:
    """The mixture of ``variant`` (a name in ``cfg.variants``) over the available pools."""
    by_name = {v.name: v for v in cfg.variants}
    if variant not in by_name:
        raise MixtureError(f"unknown variant {variant!r}; instruct.variants defines {sorted(by_name)}")
    sources = {s.name: s for s in cfg.sources}
    unknown = sorted(set(by_name[variant].sources) - set(sources))
    if unknown:
        raise MixtureError(f"variant {variant!r} names source(s) {unknown} not in instruct.sources {sorted(sources)}")
    chosen = [sources[name] for name in by_name[variant].sources if name in pools.train]
    if pools.replay:
        chosen.append(MixtureSource(REPLAY, "text"))
    return mix(pools.train | {REPLAY: pools.replay}, chosen, seed)


def _available(cfg: InstructConfig, pools: Pools) -> dict[str, frozenset[str]]:
    return {v.name: frozenset(v.sources) & set(pools.train) for v in cfg.variants}


def runnable_variants(cfg: InstructConfig, pools: Pools) -> list[str]:
    """The variants worth training: each with at least one available source and not the same available sources
    as an earlier variant (without the math data, "Alpaca + Math" is "Alpaca" again)."""
    seen: set[frozenset[str]] = set()
    names = []
    for name, available in _available(cfg, pools).items():
        if available and available not in seen:
            seen.add(available)
            names.append(name)
    return names


def trained_as(cfg: InstructConfig, pools: Pools, variant: str) -> str:
    """The runnable variant that trains on the same available data as ``variant`` (itself if it is runnable)."""
    available = _available(cfg, pools)
    if variant not in available:
        raise MixtureError(f"unknown variant {variant!r}; instruct.variants defines {sorted(available)}")
    return next(name for name in runnable_variants(cfg, pools) if available[name] == available[variant])
