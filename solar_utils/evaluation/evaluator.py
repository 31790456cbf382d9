"""``evaluate``: score a causal LM on the H6 tasks from any source and aggregate as the leaderboard does.

Per task: the mean of the per-item metric with ``mean_stderr``; MMLU is the plain mean of its subjects'
accuracies with ``unweighted_mean_stderr`` (leaderboard v1 averaged the 57 ``hendrycksTest`` tasks). H6 is the
plain mean of the six task scores (present only when all six were evaluated).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from solar_utils.evaluation import metrics
from solar_utils.evaluation.scoring import MAX_GEN_TOKS, Scorer
from solar_utils.evaluation.sources import SourceLike, resolve_source, write_jsonl
from solar_utils.checkpoints import load_model, write_text_atomic
from solar_utils.config import EvalConfig
from solar_utils.evaluation.tasks import GSM8K_UNTIL, TASKS, Prompt, Task, get_task, prepare

PerTask = int | Mapping[str, int] | None


@dataclass
class EvalResult:
    """Scores (fractions in [0, 1]), standard errors, H6, per-item records and the settings used."""

    scores: dict[str, float]
    stderrs: dict[str, float]
    samples: dict[str, list[dict[str, Any]]]
    settings: dict[str, Any] = field(default_factory=dict)
    subscores: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def h6(self) -> float | None:
        if not all(t in self.scores for t in TASKS):
            return None
        return metrics.mean([self.scores[t] for t in TASKS])

    def headline(self) -> dict[str, float | None]:
        """The task scores and their mean ``h6``: what a stage's table shows."""
        return {**self.scores, "h6": self.h6}

    def summary(self) -> dict[str, Any]:
        """What ``results.json`` holds (NaN standard errors written as null)."""
        return {
            "scores": self.scores,
            "stderrs": {t: None if math.isnan(v) else v for t, v in self.stderrs.items()},
            "h6": self.h6,
            "n_items": {t: len(s) for t, s in self.samples.items()},
            "subscores": self.subscores,
            "settings": self.settings,
        }

    def write(self, output_dir: str | os.PathLike) -> Path:
        """Write ``samples_<task>.jsonl`` per task, then ``results.json``, each atomically; return the latter."""
        out = Path(output_dir)
        for task, rows in self.samples.items():
            write_jsonl(out / f"samples_{task}.jsonl", rows)
        return write_text_atomic(out / "results.json", json.dumps(self.summary(), indent=2) + "\n")


def evaluate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, tasks: Sequence[str] = TASKS, *,
             source: SourceLike, num_fewshot: PerTask = None, batch_size: int = 16, limit: PerTask = None,
             seed: int = 1234, output_dir: str | os.PathLike | None = None, max_gen_toks: int = MAX_GEN_TOKS,
             max_length: int | None = None, share_prefix: bool = True, progress: bool = True) -> EvalResult:
    """Evaluate ``model`` on ``tasks`` with leaderboard-v1 settings.

    ``source``: a JSONL directory, ``"hub"``, or an object with ``eval_items``/``fewshot_items`` (the tiny
    world). ``num_fewshot`` / ``limit``: one int for every task or a ``{task: n}`` override (task defaults:
    25/10/5/0/5/5 shots, all items). ``seed`` seeds few-shot sampling (the harness's ``fewshot_random_seed``).
    Contexts longer than the model's positions (or ``max_length``) are left-truncated as the harness does;
    ``max_gen_toks`` (256 in the harness) must leave room for a GSM8K context on short-context models.
    """
    names = [get_task(t).name for t in tasks]
    shots, limits = _per_task(num_fewshot, names, "num_fewshot"), _per_task(limit, names, "limit")
    src = resolve_source(source)
    scorer = Scorer(model, tokenizer, batch_size=batch_size, max_length=max_length, share_prefix=share_prefix,
                    progress=progress)
    result = EvalResult({}, {}, {}, settings={
        "num_fewshot": {}, "limit": {n: limits.get(n) for n in names}, "seed": seed, "batch_size": batch_size,
        "max_length": scorer.max_length, "max_gen_toks": max_gen_toks, "source": repr(src),
        "model": getattr(model.config, "_name_or_path", "") or type(model).__name__,
    })
    prepared = {}
    for name in names:  # check every task's items before spending model time on any
        task = get_task(name)
        docs = src.eval_items(name)[: limits.get(name)]
        if not docs:
            raise ValueError(f"{name}: the source has no evaluation items")
        result.settings["num_fewshot"][name] = k = shots.get(name, task.num_fewshot)
        prepared[name] = prepare(task, docs, src.fewshot_items(name), k, seed)
    for name, prompts in prepared.items():
        task = get_task(name)
        result.samples[name] = _run(task, prompts, scorer, max_gen_toks)
        _aggregate(task, prompts, result.samples[name], result)
    if output_dir is not None:
        result.write(output_dir)
    return result


def preset_source(settings: EvalConfig, world_dir: str | os.PathLike) -> SourceLike:
    """The preset's evaluation items, from its values only: the tiny world's ``eval/`` folder or the hub's."""
    return Path(world_dir) / "eval" if settings.source == "world" else "hub"


def score_models(models: Mapping[str, PreTrainedModel | str | os.PathLike], tokenizer: PreTrainedTokenizerBase | None,
                 settings: EvalConfig, world_dir: str | os.PathLike, *, seed: int, tasks: Sequence[str] = TASKS,
                 limit: PerTask = None, output_dir: str | os.PathLike | None = None) -> dict[str, EvalResult]:
    """Every stage's one way to score models: each of ``models`` on ``tasks`` with the preset's ``eval`` settings
    (source, shots, batch size, generation budget), ``limit`` items per task (default ``settings.limit``; 0 skips
    the evaluation and returns ``{}``).

    A model given as a checkpoint folder is loaded with its own tokenizer and freed after scoring; with
    ``output_dir`` each model's samples and ``results.json`` go to ``<output_dir>/<name>/``.
    """
    limit = settings.limit if limit is None else limit
    if limit == 0:
        return {}
    source = resolve_source(preset_source(settings, world_dir))
    results = {}
    for name, model in tqdm(models.items(), desc="scoring", unit="model", disable=len(models) < 2):
        if isinstance(model, PreTrainedModel):
            model_tokenizer = tokenizer
        else:
            model, model_tokenizer = load_model(model), AutoTokenizer.from_pretrained(model)
        if model_tokenizer is None:
            raise ValueError(f"{name}: pass a tokenizer for models given in memory")
        results[name] = evaluate(model, model_tokenizer, tasks, source=source, num_fewshot=settings.num_fewshot or None,
                                 batch_size=settings.batch_size, limit=limit, seed=seed,
                                 max_gen_toks=settings.max_gen_toks, progress=False,
                                 output_dir=None if output_dir is None else Path(output_dir) / name)
        del model
    return results


def _run(task: Task, prompts: list[Prompt], scorer: Scorer, max_gen_toks: int) -> list[dict[str, Any]]:
    """Score every prompt and build its record: context(s), choices, log-likelihoods, prediction, gold."""
    if task.generative:
        outputs: list[Any] = scorer.generate([p.contexts[0] for p in prompts], GSM8K_UNTIL, max_gen_toks,
                                             desc=task.name)
    else:
        outputs = scorer.loglikelihoods([p.requests for p in prompts], desc=task.name)
    records = []
    for p, output in zip(prompts, outputs, strict=True):
        record: dict[str, Any] = {"index": p.index, "context": p.contexts[0] if len(set(p.contexts)) == 1
                                  else list(p.contexts)}
        if not task.generative:
            record |= {"continuations": list(p.continuations), "choices": list(p.choices),
                       "loglikelihoods": list(output)}
        if p.group:
            record["group"] = p.group
        record |= task.score(p, output)
        record["gold"] = list(p.gold) if isinstance(p.gold, tuple) else p.gold
        records.append(record)
    return records


def _aggregate(task: Task, prompts: list[Prompt], records: list[dict[str, Any]], result: EvalResult) -> None:
    values = [r[task.metric] for r in records]
    if any(p.group for p in prompts):
        by_group = {g: [v for v, p in zip(values, prompts, strict=True) if p.group == g]
                    for g in sorted({p.group for p in prompts})}
        result.subscores[task.name] = {g: metrics.mean(v) for g, v in by_group.items()}
        result.scores[task.name] = metrics.mean(list(result.subscores[task.name].values()))
        result.stderrs[task.name] = metrics.unweighted_mean_stderr([metrics.mean_stderr(v) for v in by_group.values()])
    else:
        result.scores[task.name] = metrics.mean(values)
        result.stderrs[task.name] = metrics.mean_stderr(values)


def _per_task(value: PerTask, names: list[str], what: str) -> dict[str, int]:
    """Expand an int to every task, or check a mapping's keys and values."""
    if value is None:
        return {}
    if isinstance(value, int):
        mapping: Mapping[str, int] = {n: value for n in names}
    else:
        mapping = value
    for key, n in mapping.items():
        get_task(key)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{key}: {what} must be a non-negative integer, got {n!r}")
    return dict(mapping)
