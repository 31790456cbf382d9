"""Instruction-data mixtures (paper Table 1): schema converters to chat messages, and a weighted, capped mixer.

Every source schema becomes trl's conversational prompt/completion form: ``{"prompt": [system?, user],
"completion": [assistant]}``, so the model's chat template renders it and the loss covers the answer only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solar_utils.config import InstructConfig, MixtureSource

Example = dict[str, list[dict[str, str]]]


class RecordError(ValueError):
    """A training record that does not fit its declared schema; the message names the record and the field."""


class MixtureError(ValueError):
    """A mixture that cannot be built as configured; the message names the source or setting."""


def text_field(record: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    """``record[key]`` as a string: present and non-empty when ``required``, else optional (default "")."""
    if key not in record:
        if required:
            raise RecordError(f"{where}: missing field {key!r} (fields: {sorted(record)})")
        return ""
    value = record[key]
    if not isinstance(value, str):
        raise RecordError(f"{where}: field {key!r} must be a string, got {type(value).__name__} {value!r:.60}")
    if required and not value.strip():
        raise RecordError(f"{where}: field {key!r} is empty")
    return value


def chat_example(system: str, user: str, assistant: str) -> Example:
    """A prompt (a system turn when ``system`` is not blank, then the user turn) and the assistant's completion."""
    prompt = ([{"role": "system", "content": system}] if system.strip() else []) + [{"role": "user", "content": user}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": assistant}]}


def from_alpaca(record: dict[str, Any], where: str) -> Example:
    """Alpaca-GPT4 ``{"instruction", "input", "output"}``: the input (if any) follows the instruction."""
    instruction, extra = text_field(record, "instruction", where), text_field(record, "input", where, required=False)
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    return chat_example("", user, text_field(record, "output", where))


def from_openorca(record: dict[str, Any], where: str) -> Example:
    """OpenOrca ``{"id", "system_prompt", "question", "response"}``: the system prompt becomes a system turn."""
    return chat_example(text_field(record, "system_prompt", where, required=False),
                        text_field(record, "question", where), text_field(record, "response", where))


def from_math_instruct(record: dict[str, Any], where: str) -> Example:
    """Synth. Math-Instruct ``{"instruction", "response", "provenance"}`` (notebook 03)."""
    return chat_example("", text_field(record, "instruction", where), text_field(record, "response", where))


SCHEMAS: dict[str, Callable[[dict[str, Any], str], Example]] = {
    "alpaca": from_alpaca, "openorca": from_openorca, "math_instruct": from_math_instruct,
}


def to_chat(record: Any, schema: str, where: str = "record") -> Example:
    """Convert one record of ``schema`` to prompt/completion chat messages, or raise a clear error."""
    if schema not in SCHEMAS:
        raise MixtureError(f"{where}: unknown dataset schema {schema!r}; known schemas: {sorted(SCHEMAS)}")
    if not isinstance(record, dict):
        raise RecordError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    return SCHEMAS[schema](record, where)


def read_records(source: MixtureSource, world_dir: Path, run_dir: Path,
                 schemas: Collection[str] = SCHEMAS) -> list[dict[str, Any]] | None:
    """The raw records of ``source`` (whose schema must be one of ``schemas``); None when an ``optional`` source's
    file does not exist (yet)."""
    if source.schema not in schemas:
        raise MixtureError(f"source {source.name!r}: unknown dataset schema {source.schema!r}; "
                           f"known schemas: {sorted(schemas)}")
    if source.kind == "hub":
        import datasets

        return list(datasets.load_dataset(source.path, split=source.split))
    path = (world_dir if source.kind == "world" else run_dir) / source.path
    if not path.is_file():
        if source.optional:
            return None
        raise MixtureError(f"source {source.name!r}: no file at {path}")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise RecordError(f"{path}:{number}: not valid JSON ({err})") from err
    return records


def convert(records: list[dict[str, Any]], source: MixtureSource) -> list[Example]:
    """Every record of ``source`` as chat messages; an error names the first bad record by its line number."""
    return [to_chat(r, source.schema, f"{source.name} record {i + 1}") for i, r in enumerate(records)]


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


def skipped_note(source: MixtureSource) -> str:
    """The note for an ``optional`` source whose file does not exist (yet)."""
    return (f"source {source.name!r} skipped: {source.path} does not exist yet (run the stage that writes it to "
            "include it)")


@dataclass(frozen=True)
class Pools:
    """Each available source's training examples (shuffled), the held-out examples of all of them, and a note
    for every optional source that was skipped because its file does not exist."""

    train: dict[str, list[Example]]
    heldout: list[Example]
    notes: list[str]


def load_pools(cfg: InstructConfig, world_dir: Path, run_dir: Path, seed: int) -> Pools:
    """Read and convert every source of ``cfg``, holding ``cfg.heldout_per_source`` examples of each apart."""
    train: dict[str, list[Example]] = {}
    heldout: list[Example] = []
    notes = []
    for source in cfg.sources:
        records = read_records(source, Path(world_dir), Path(run_dir))
        if records is None:
            notes.append(skipped_note(source))
            continue
        train[source.name], kept = split_heldout(convert(records, source), cfg.heldout_per_source, seed, source.name)
        heldout += kept
    return Pools(train, heldout, notes)


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
    return mix(pools.train, chosen, seed)


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
