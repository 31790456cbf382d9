"""Training records: reading a configured source's records, and converting each instruction schema to chat.

:func:`read_records` reads a ``MixtureSource`` (paper Table 1: a ``world`` file, an earlier ``stage``'s output or
a ``hub`` dataset, resolved by :mod:`solar_utils.data`); an ``optional`` source whose file does not exist yet
gives None and :func:`skipped_note` says so. :func:`to_chat` / :func:`convert` turn instruction records into
trl's conversational prompt/completion form, ``{"prompt": [system?, user], "completion": [assistant]}``, so the
model's chat template renders them and the loss covers the answer only. SFT (:mod:`solar_utils.training`),
DPO (:mod:`solar_utils.alignment`, whose preference schemas build on :func:`text_field` and
:func:`chat_example`) and the merging study (:mod:`solar_utils.stages.model_merging`) all read their data here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from itertools import islice
from typing import Any

from solar_utils.config import MixtureSource
from solar_utils.data import Loader, hub_dataset, source_file
from solar_utils.jsonl import JsonlError, read_jsonl

Example = dict[str, list[dict[str, str]]]


class RecordError(ValueError):
    """A training record that does not fit its declared schema; the message names the record and the field."""


class MixtureError(ValueError):
    """A mixture, or one of its sources, that cannot be built as configured; the message names the source or
    setting."""


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


def read_records(source: MixtureSource, world_dir: str | os.PathLike | None, run_dir: str | os.PathLike | None,
                 schemas: Collection[str] = SCHEMAS, loader: Loader | None = None, extra: int = 0,
                 keep: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]] | None:
    """The raw records of ``source`` (whose schema must be one of ``schemas``) for which ``keep`` holds (all when
    None; e.g. a :class:`solar_utils.benchmark_filter.BenchmarkFilter`); None when an ``optional`` source's file
    does not exist (yet). A ``hub`` source streams and stops after ``max_used + extra`` kept rows (``extra``: the
    rows a caller holds out), so a 2.9M-row OpenOrca is not downloaded whole to use 100K; null ``max_used`` reads
    all. ``loader`` replaces ``datasets.load_dataset`` for a ``hub`` source."""
    if source.schema not in schemas:
        raise MixtureError(f"source {source.name!r}: unknown dataset schema {source.schema!r}; "
                           f"known schemas: {sorted(schemas)}")
    if source.kind == "hub":
        rows = hub_dataset(source.path, split=source.split, streaming=True, loader=loader)
        kept = rows if keep is None else filter(keep, rows)
        return list(islice(kept, None if source.max_used is None else source.max_used + extra))
    path = source_file(source.kind, source.path, world_dir, run_dir, what=f"source {source.name!r}")
    if not path.is_file():
        if source.optional:
            return None
        raise MixtureError(f"source {source.name!r}: no file at {path}")
    try:
        records = read_jsonl(path)
    except JsonlError as err:
        raise RecordError(f"source {source.name!r}: {err}") from err
    return records if keep is None else list(filter(keep, records))


def skipped_note(source: MixtureSource) -> str:
    """The note for an ``optional`` source whose file does not exist (yet)."""
    return (f"source {source.name!r} skipped: {source.path} does not exist yet (run the stage that writes it to "
            "include it)")


def convert(records: list[dict[str, Any]], source: MixtureSource) -> list[Example]:
    """Every record of ``source`` as chat messages; an error names the first bad record by its line number."""
    return [to_chat(r, source.schema, f"{source.name} record {i + 1}") for i, r in enumerate(records)]
