"""Export a JSONL source as lm-evaluation-harness tasks, so ``lm_eval`` can score exactly the same items.

``export_harness_tasks(data_dir, out_dir)`` writes one YAML per task (named ``solar_<task>`` so they never clash
with the harness's built-in tasks) mirroring the leaderboard YAMLs: ``dataset_path: json`` with ``data_files``
pointing at the JSONL files (``test`` = evaluated items, ``train`` = few-shot pool), the same
``doc_to_text``/``doc_to_target``/``doc_to_choice`` and metrics. HellaSwag's ``process_docs``, Winogrande's
partial-scoring functions and TruthfulQA's mc2 come from lm-eval itself (``utils.py`` re-exports them).
MMLU becomes one task per subject (its few-shot examples are the first k of that subject, ``first_n``) with
per-subject JSONL files under ``data/mmlu/``, and a group ``solar_mmlu`` averaging subjects without weights.

Run: ``lm_eval --model hf --model_args pretrained=DIR --include_path OUT --tasks solar_arc,solar_mmlu,...``.

Deliberate differences from the built-in YAMLs: the task names; splits named ``test``/``train`` after our files;
GSM8K keeps only the ``strict-match`` filter (the leaderboard's number) and states ``max_gen_toks``; MMLU's
subjects are whatever the data holds (57 for the real set).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from solar_utils.evaluation.metrics import GSM8K_IGNORE, GSM8K_STRICT
from solar_utils.evaluation.scoring import MAX_GEN_TOKS
from solar_utils.evaluation.sources import JsonlSource
from solar_utils.checkpoints import write_text_atomic
from solar_utils.evaluation.tasks import GSM8K_UNTIL, MMLU_LETTERS, TASKS, TRUTHFULQA_PREAMBLE, get_task
from solar_utils.jsonl import write_jsonl

UTILS_PY = '''"""lm-eval's own helpers for the exported solar_* tasks (re-exported, not reimplemented)."""
from lm_eval.tasks.hellaswag.utils import process_docs as hellaswag_process_docs  # noqa: F401
from lm_eval.tasks.truthfulqa.utils import process_results_mc2  # noqa: F401
from lm_eval.tasks.winogrande.preprocess_winogrande import (  # noqa: F401
    doc_to_choice as winogrande_doc_to_choice,
    doc_to_target as winogrande_doc_to_target,
    doc_to_text as winogrande_doc_to_text,
)
'''
ACC = {"metric": "acc", "aggregation": "mean", "higher_is_better": True}
ACC_NORM = {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}


class _Function(str):
    """A ``!function module.name`` reference in a harness YAML."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))


def harness_task_name(task: str) -> str:
    return f"solar_{get_task(task).name}"


def export_harness_tasks(data_dir: str | os.PathLike, out_dir: str | os.PathLike, tasks: Sequence[str] = TASKS,
                         num_fewshot: Mapping[str, int] | None = None, max_gen_toks: int = MAX_GEN_TOKS) -> Path:
    """Write harness task YAMLs (plus ``utils.py`` and MMLU's per-subject data) for a JSONL source; return out_dir.

    Items are checked as :func:`evaluate` checks them. ``num_fewshot`` overrides the task defaults;
    ``max_gen_toks`` goes into GSM8K's ``generation_kwargs`` (lower it for short-context models).
    """
    source, out = JsonlSource(data_dir), Path(out_dir)
    data = source.root.resolve()
    write_text_atomic(out / "utils.py", UTILS_PY)
    for name in tasks:
        task = get_task(name)
        shots = (num_fewshot or {}).get(task.name, task.num_fewshot)
        docs, pool = source.eval_items(task.name), source.fewshot_items(task.name)
        for i, doc in enumerate(docs):
            task.check(doc, f"item {i}")
        for i, doc in enumerate(pool):
            task.check(doc, f"few-shot item {i}")
        if task.name == "mmlu":
            _export_mmlu(docs, pool, shots, out)
            continue
        files = {"test": data / f"{task.name}.jsonl"}
        if pool:
            files["train"] = data / f"{task.name}.fewshot.jsonl"
        config = _dataset(harness_task_name(task.name), files, shots) | TASK_FIELDS[task.name](max_gen_toks)
        _write_yaml(out / f"{harness_task_name(task.name)}.yaml", config)
    return out


def _dataset(name: str, files: Mapping[str, Path], shots: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task": name, "dataset_path": "json",
        "dataset_kwargs": {"data_files": {split: str(path) for split, path in files.items()}},
        "test_split": "test", "num_fewshot": shots,
    }
    if "train" in files:
        config["fewshot_split"] = "train"
    return config


def _multiple_choice(text: str, target: Any, choice: Any, metric_list: list[dict]) -> dict[str, Any]:
    return {"output_type": "multiple_choice", "doc_to_text": text, "doc_to_target": target,
            "doc_to_choice": choice, "metric_list": metric_list, "metadata": {"version": 1.0}}


def _gsm8k(max_gen_toks: int) -> dict[str, Any]:
    return {
        "output_type": "generate_until",
        "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_target": "{{answer}}",
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                         "ignore_case": True, "ignore_punctuation": False, "regexes_to_ignore": list(GSM8K_IGNORE)}],
        "generation_kwargs": {"until": list(GSM8K_UNTIL), "do_sample": False, "temperature": 0.0,
                              "max_gen_toks": max_gen_toks},
        "filter_list": [{"name": "strict-match", "filter": [
            {"function": "regex", "regex_pattern": GSM8K_STRICT.pattern}, {"function": "take_first"}]}],
        "metadata": {"version": 3.0},
    }


TASK_FIELDS = {
    "arc": lambda _: _multiple_choice("Question: {{question}}\nAnswer:", "{{choices.label.index(answerKey)}}",
                                      "{{choices.text}}", [ACC, ACC_NORM]),
    "hellaswag": lambda _: {"process_docs": _Function("utils.hellaswag_process_docs")}
    | _multiple_choice("{{query}}", "{{label}}", "choices", [ACC, ACC_NORM]),
    "truthfulqa": lambda _: {"process_results": _Function("utils.process_results_mc2")}
    | _multiple_choice(TRUTHFULQA_PREAMBLE + "\n\nQ: {{question}}\nA:", 0, "{{mc2_targets.choices}}", [ACC]),
    "winogrande": lambda _: _multiple_choice(_Function("utils.winogrande_doc_to_text"),
                                             _Function("utils.winogrande_doc_to_target"),
                                             _Function("utils.winogrande_doc_to_choice"), [ACC]),
    "gsm8k": _gsm8k,
}


def align_harness_samples(samples: Mapping[str, list[dict]], task: str, docs: Sequence[dict]) -> list[dict]:
    """lm-eval's logged samples (``simple_evaluate(..., log_samples=True)["samples"]``) for ``task``, in the
    order of ``docs`` — the evaluated items; MMLU's per-subject samples are interleaved back."""
    if get_task(task).name != "mmlu":
        return sorted(samples[harness_task_name(task)], key=lambda s: s["doc_id"])
    slugs = _subject_slugs(docs)
    seen: dict[str, int] = {}
    out = []
    for doc in docs:
        slug = slugs[doc["subject"]]
        position = seen.get(slug, 0)
        seen[slug] = position + 1
        out.append(next(s for s in samples[f"solar_mmlu_{slug}"] if s["doc_id"] == position))
    return out


def _subject_slugs(docs: Sequence[dict]) -> dict[str, str]:
    """Subject → task-name-safe slug, in order of first appearance; two subjects may not share a slug."""
    slugs: dict[str, str] = {}
    for subject in dict.fromkeys(d["subject"] for d in docs):
        slug = re.sub(r"[^0-9A-Za-z]+", "_", subject).strip("_").lower() or "subject"
        if slug in slugs.values():
            raise ValueError(f"mmlu: subjects {subject!r} and another both export as {slug!r}; rename one")
        slugs[subject] = slug
    return slugs


def _export_mmlu(docs: list[dict], pool: list[dict], shots: int, out: Path) -> None:
    """One task per subject over per-subject JSONL files, and the unweighted group ``solar_mmlu``."""
    slugs = _subject_slugs(docs)
    options = "".join(f"\n{letter}. {{{{choices[{i}]}}}}" for i, letter in enumerate(MMLU_LETTERS))
    for subject, slug in slugs.items():
        subject_docs = [d for d in docs if d["subject"] == subject]
        files = {"test": write_jsonl(out / "data" / "mmlu" / f"{slug}.jsonl", subject_docs)}
        subject_pool = [d for d in pool if d["subject"] == subject]
        if subject_pool:
            files["train"] = write_jsonl(out / "data" / "mmlu" / f"{slug}.fewshot.jsonl", subject_pool)
        config = _dataset(f"solar_mmlu_{slug}", {k: p.resolve() for k, p in files.items()}, shots)
        config |= {"fewshot_config": {"sampler": "first_n"},
                   "description": "The following are multiple choice questions (with answers) about "
                                  "{{subject.replace('_', ' ')}}.\n\n"}
        config |= _multiple_choice("{{question.strip()}}" + options + "\nAnswer:", "answer", list(MMLU_LETTERS), [ACC])
        _write_yaml(out / f"solar_mmlu_{slug}.yaml", config)
    _write_yaml(out / "solar_mmlu.yaml", {
        "group": "solar_mmlu", "task": [f"solar_mmlu_{slug}" for slug in slugs.values()],
        "aggregate_metric_list": [{"metric": "acc", "weight_by_size": False}], "metadata": {"version": 1.0},
    })


def _write_yaml(path: Path, config: dict[str, Any]) -> Path:
    return write_text_atomic(path, yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10**6))
