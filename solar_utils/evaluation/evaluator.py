"""``evaluate``: score a causal LM on the H6 tasks from any source and aggregate as the leaderboard does.

Per task: the mean of the per-item metric with ``mean_stderr``; MMLU is the plain mean of its subjects'
accuracies with ``unweighted_mean_stderr`` (leaderboard v1 averaged the 57 ``hendrycksTest`` tasks). H6 is the
plain mean of the six task scores (present only when all six were evaluated).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from solar_utils.evaluation import cache as score_cache
from solar_utils.evaluation import metrics
from solar_utils.evaluation.scoring import MAX_GEN_TOKS, Scorer
from solar_utils.evaluation.sources import HubSource, SourceLike, resolve_source, write_jsonl
from solar_utils.checkpoints import load_for_scoring, write_text_atomic
from solar_utils.config import EvalConfig
from solar_utils.evaluation.tasks import GSM8K_UNTIL, TASKS, Prompt, Task, get_task, prepare
from solar_utils.quiet import quietly

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


@quietly
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
    names = task_names(tasks)
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
        docs = take(task, src.eval_items(name), limits.get(name))
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


def take(task: Task, docs: list[dict], n: int | None) -> list[dict]:
    """The ``n`` items of a task that a limit scores (all for None): the first n, or for a task with groups (MMLU's
    subjects) n taken round-robin over the groups in order of first appearance, so that 300 items cover all 57
    subjects rather than the first three (the harness's ``--limit`` takes n per subject instead). The items keep
    their source order."""
    if n is None or n >= len(docs):
        return docs
    first_seen: dict[str, int] = {}
    seen: Counter[str] = Counter()
    rank = []  # (place within its group, the group's order)
    for doc in docs:
        group = task.group(doc)
        rank.append((seen[group], first_seen.setdefault(group, len(first_seen))))
        seen[group] += 1
    chosen = sorted(range(len(docs)), key=rank.__getitem__)[:n]
    return [docs[i] for i in sorted(chosen)]


def preset_source(settings: EvalConfig, world_dir: str | os.PathLike) -> SourceLike:
    """The preset's evaluation items, from its values only: the tiny world's ``eval/`` folder or the hub's (from
    ``settings.hub_root`` when it names a local copy)."""
    return Path(world_dir) / "eval" if settings.source == "world" else HubSource(root=settings.hub_root)


@quietly
def score_models(models: Mapping[str, PreTrainedModel | str | os.PathLike], tokenizer: PreTrainedTokenizerBase | None,
                 settings: EvalConfig, world_dir: str | os.PathLike, *, seed: int, tasks: Sequence[str] = TASKS,
                 limit: PerTask = None, output_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None) -> dict[str, EvalResult]:
    """Every stage's one way to score models: each of ``models`` on ``tasks`` with the preset's ``eval`` settings
    (source, shots, batch size, generation budget), ``limit`` items per task (default ``settings.limit``; 0 skips
    the evaluation and returns ``{}``).

    A model given as a checkpoint folder is loaded with its own tokenizer (onto the GPU when there is one) and freed
    after scoring; with ``output_dir`` each model's samples and ``results.json`` go to ``<output_dir>/<name>/``.

    With ``cache_dir`` (a run's ``scores/`` folder) each task's result is looked up first by the model's weights
    and the task's settings (:mod:`solar_utils.evaluation.cache`): only the missing tasks are scored (one
    ``evaluate`` call per model, a checkpoint folder loaded only then) and stored. ``settings["cached"]`` lists the
    tasks that came from the cache; everything else equals a fresh run's.
    """
    limit = settings.limit if limit is None else limit
    if limit == 0:
        return {}
    source = resolve_source(preset_source(settings, world_dir))
    names = task_names(tasks)
    num_fewshot = settings.num_fewshot or None
    shots, limits = _per_task(num_fewshot, names, "num_fewshot"), _per_task(limit, names, "limit")
    sources = {} if cache_dir is None else {n: score_cache.source_sha256(source, n) for n in names}
    results = {}
    for name, model in tqdm(models.items(), desc="scoring", unit="model", disable=len(models) < 2):
        in_memory = isinstance(model, PreTrainedModel)
        model_tokenizer = tokenizer if in_memory else AutoTokenizer.from_pretrained(model)
        if model_tokenizer is None:
            raise ValueError(f"{name}: pass a tokenizer for models given in memory")
        keys, cached = {}, {}
        if cache_dir is not None:
            fields = score_cache.model_fields(model, model_tokenizer)
            for n in names:
                keys[n] = score_cache.task_key(fields, n, source=sources[n], seed=seed,
                                               num_fewshot=shots.get(n, get_task(n).num_fewshot),
                                               limit=limits.get(n), max_gen_toks=settings.max_gen_toks)
                if (entry := score_cache.load(cache_dir, keys[n])) is not None:
                    cached[n] = entry
        missing = [n for n in names if n not in cached]
        fresh = None
        if missing or not cached:  # (no tasks at all: evaluate's empty result, as without a cache)
            loaded = model if in_memory else load_for_scoring(model)
            fresh = evaluate(loaded, model_tokenizer, missing, source=source, num_fewshot=num_fewshot,
                             batch_size=settings.batch_size, limit=limit, seed=seed,
                             max_gen_toks=settings.max_gen_toks, progress=False)
            del loaded
            if cache_dir is not None:
                for n in missing:
                    score_cache.store(cache_dir, keys[n], samples=fresh.samples[n], score=fresh.scores[n],
                                      stderr=fresh.stderrs[n], subscores=fresh.subscores.get(n),
                                      settings=_task_settings(fresh.settings, n))
            fresh_settings = fresh.settings
        else:  # every task cached: the settings evaluate would have reported
            model_name = str(model) if not in_memory else (getattr(model.config, "_name_or_path", "")
                                                           or type(model).__name__)
            fresh_settings = {"seed": seed, "batch_size": settings.batch_size, "max_length": fields["max_length"],
                              "max_gen_toks": settings.max_gen_toks, "source": repr(source), "model": model_name}
        results[name] = _combine(names, cached, fresh, keys, fresh_settings)
        if output_dir is not None:
            results[name].write(Path(output_dir) / name)
    return results


def task_names(tasks: Sequence[str]) -> list[str]:
    """The canonical names of ``tasks``: one or more known tasks, each once (else a ValueError naming the fix)."""
    if isinstance(tasks, str) or not tasks:
        raise ValueError(f"tasks must be a list of one or more of {', '.join(TASKS)}, got {tasks!r}")
    names = [get_task(t).name for t in tasks]
    if len(set(names)) < len(names):
        raise ValueError(f"tasks lists a task twice ({list(tasks)}); list each once")
    return names


def _task_settings(settings: Mapping[str, Any], task: str) -> dict[str, Any]:
    """One task's view of ``evaluate``'s settings (what a cache file records about how it was scored)."""
    return {k: v[task] if k in ("num_fewshot", "limit") else v for k, v in settings.items()}


def _combine(names: list[str], cached: Mapping[str, dict[str, Any]], fresh: EvalResult | None,
             keys: Mapping[str, Mapping[str, Any]], fresh_settings: Mapping[str, Any]) -> EvalResult:
    """One ``EvalResult`` over ``names`` in order, each task from the cache or from ``fresh``, with the settings a
    fresh ``evaluate`` over all of them reports, plus ``cached``: the tasks that came from the cache."""
    result = EvalResult({}, {}, {})
    for n in names:
        part = cached.get(n) or {"score": fresh.scores[n], "stderr": fresh.stderrs[n],  # type: ignore[union-attr]
                                 "samples": fresh.samples[n], "subscores": fresh.subscores.get(n)}
        result.scores[n], result.stderrs[n], result.samples[n] = part["score"], part["stderr"], part["samples"]
        if part["subscores"] is not None:
            result.subscores[n] = part["subscores"]
    per_task = {k: {n: keys[n][k] if n in cached else fresh_settings[k][n] for n in names}
                for k in ("num_fewshot", "limit")}
    result.settings = {**per_task, **{k: v for k, v in fresh_settings.items() if k not in per_task},
                       "cached": [n for n in names if n in cached]}
    return result


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
