"""Preference data (paper Table 1, alignment): schema converters to trl's conversational preference form, counted
drops, held-out pairs per source and the weighted, capped pools DPO and sDPO train on.

Every schema becomes ``{"prompt": [system?, user], "chosen": [assistant], "rejected": [assistant]}`` (trl 1.16's
conversational preference format), rendered by the model's chat template.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from solar_utils.config import AlignmentConfig, MixtureSource
from solar_utils.mixing import mix, split_heldout
from solar_utils.records import MixtureError, RecordError, chat_example, read_records, skipped_note, text_field

Preference = dict[str, list[dict[str, str]]]
SAME_ANSWERS, LONG_PROMPT = "chosen == rejected", "prompt fills max_length"


def _pair(system: str, user: str, chosen: str, rejected: str) -> Preference:
    chat = chat_example(system, user, chosen)
    return {"prompt": chat["prompt"], "chosen": chat["completion"],
            "rejected": [{"role": "assistant", "content": rejected}]}


def _reply(record: dict[str, Any], key: str, where: str) -> str:
    """The text of the final assistant message of the conversation ``record[key]``."""
    if key not in record:
        raise RecordError(f"{where}: missing field {key!r} (fields: {sorted(record)})")
    messages = record[key]
    if not isinstance(messages, list) or not messages:
        raise RecordError(f"{where}: field {key!r} must be a non-empty list of chat messages, "
                          f"got {type(messages).__name__} {messages!r:.60}")
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        raise RecordError(f"{where}: the last message of {key!r} must be the assistant's reply, got {last!r:.60}")
    return text_field(last, "content", f"{where}: {key}[-1]")


def from_orca_dpo(record: dict[str, Any], where: str) -> Preference:
    """Orca DPO pairs (Intel/orca_dpo_pairs) ``{"system", "question", "chosen", "rejected"}``."""
    return _pair(text_field(record, "system", where, required=False), text_field(record, "question", where),
                 text_field(record, "chosen", where), text_field(record, "rejected", where))


def from_ultrafeedback(record: dict[str, Any], where: str) -> Preference:
    """UltraFeedback binarized ``{"prompt", "chosen": [messages], "rejected": [messages], ...}`` (H4's, and AllenAI's
    cleaned one, the paper's "Ultrafeedback Cleaned", in the same schema): the prompt is the user turn, the last
    assistant messages are the answers."""
    return _pair("", text_field(record, "prompt", where), _reply(record, "chosen", where),
                 _reply(record, "rejected", where))


def from_math_alignment(record: dict[str, Any], where: str) -> Preference:
    """Synth. Math-Alignment ``{"prompt", "chosen", "rejected", "provenance"}`` (notebook 03; SOLAR Sec. 3):
    the rephrased answer is chosen over the original one."""
    return _pair("", text_field(record, "prompt", where), text_field(record, "chosen", where),
                 text_field(record, "rejected", where))


PREFERENCE_SCHEMAS: dict[str, Callable[[dict[str, Any], str], Preference]] = {
    "orca_dpo": from_orca_dpo, "ultrafeedback": from_ultrafeedback, "math_alignment": from_math_alignment,
}


def to_preference(record: Any, schema: str, where: str = "record") -> Preference:
    """Convert one record of ``schema`` to a conversational preference pair, or raise a clear error."""
    if schema not in PREFERENCE_SCHEMAS:
        raise MixtureError(f"{where}: unknown preference schema {schema!r}; known schemas: "
                           f"{sorted(PREFERENCE_SCHEMAS)}")
    if not isinstance(record, dict):
        raise RecordError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    return PREFERENCE_SCHEMAS[schema](record, where)


def prompt_length(tokenizer: PreTrainedTokenizerBase, pair: Preference) -> int:
    """Tokens of the rendered prompt with the assistant's turn opened (what trl places before each answer)."""
    return len(tokenizer.apply_chat_template(pair["prompt"], add_generation_prompt=True, tokenize=True,
                                             return_dict=True)["input_ids"])


def drop_reason(pair: Preference, tokenizer: PreTrainedTokenizerBase, max_length: int) -> str | None:
    """Why a valid pair cannot teach DPO anything: identical answers, or a prompt that leaves no room for an answer
    in ``max_length`` tokens (trl would silently filter it out); None if it is usable."""
    if pair["chosen"][0]["content"].strip() == pair["rejected"][0]["content"].strip():
        return SAME_ANSWERS
    if prompt_length(tokenizer, pair) >= max_length:
        return LONG_PROMPT
    return None


def convert_source(records: list[Any], source: MixtureSource, tokenizer: PreTrainedTokenizerBase,
                   max_length: int) -> tuple[list[Preference], dict[str, int]]:
    """The usable pairs of ``source`` and the number dropped per reason; a malformed record raises, naming the
    source and the record's number."""
    pairs, dropped = [], Counter()
    for number, record in enumerate(records, start=1):
        pair = to_preference(record, source.schema, f"{source.name} record {number}")
        reason = drop_reason(pair, tokenizer, max_length)
        if reason:
            dropped[reason] += 1
        else:
            pairs.append(pair)
    return pairs, dict(dropped)


@dataclass(frozen=True)
class PreferenceData:
    """Per source: the training pairs (shuffled, capped at ``max_used``, weighted), the held-out pairs, the usable
    pairs available and the pairs dropped by reason; and a note for every optional source that was skipped."""

    train: dict[str, list[Preference]]
    heldout: dict[str, list[Preference]]
    available: dict[str, int]
    dropped: dict[str, dict[str, int]]
    notes: list[str]


def load_preferences(cfg: AlignmentConfig, tokenizer: PreTrainedTokenizerBase, world_dir: str | Path | None,
                     run_dir: str | Path | None, seed: int,
                     keep: Callable[[dict], bool] | None = None) -> PreferenceData:
    """Read and convert every source of ``cfg`` (the records ``keep`` holds for: the run's
    :class:`~solar_utils.benchmark_filter.BenchmarkFilter`), drop unusable pairs (counted), hold
    ``cfg.heldout_per_source`` pairs of each apart, then cap and weight the rest as the SFT mixer does."""
    train, heldout, available, dropped, notes = {}, {}, {}, {}, []
    for source in cfg.sources:
        records = read_records(source, world_dir, run_dir, schemas=PREFERENCE_SCHEMAS,
                               extra=cfg.heldout_per_source, keep=keep)
        if records is None:
            notes.append(skipped_note(source))
            continue
        pairs, dropped[source.name] = convert_source(records, source, tokenizer, cfg.max_length)
        available[source.name] = len(pairs)
        pool, heldout[source.name] = split_heldout(pairs, cfg.heldout_per_source, seed, source.name)
        train[source.name] = mix({source.name: pool}, [source], seed).examples
    return PreferenceData(train, heldout, available, dropped, notes)
