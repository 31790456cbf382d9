"""Notebook 06's study: two specialists trained from one base model, merged several ways (paper Tables 6-7).

Candidate 1 is a math specialist, candidate 2 an instruction specialist. :func:`merge_specs` lists the merges of
the preset (linear and SLERP over candidate 2's weight, task-vector merges with the base), :func:`run_sweep`
merges, evaluates and releases them one at a time, and :func:`results_table` lays the scores out as the
paper's Table 7, with the paper's H6 beside them.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from solar_utils import checkpoints, claims, paper
from solar_utils.config import MergingConfig, MixtureSource, Preset, PretrainConfig
from solar_utils.data import load_texts, pack_blocks, read_world_file
from solar_utils.evaluation import EvalResult, score_models
from solar_utils.evaluation.paired import mean_contrast
from solar_utils.merging import MergeRecipe, make_recipe, merge_models
from solar_utils.pretrain import PretrainResult, pretrain
from solar_utils.records import convert, read_records

CANDIDATES = ("Cand. 1 (math)", "Cand. 2 (instruction)")
"""Row names of the two specialists; like the paper's candidates, 1 is the stronger on GSM8K."""

_OUR_ROWS = {"Cand. 1": CANDIDATES[0], "Cand. 2": CANDIDATES[1], "SLERP": "SLERP (t=0.5)"}
PAPER_TABLE7_H6 = {_OUR_ROWS.get(name, name): row["h6"] for name, row in paper.table("table6_7").items()}
"""SOLAR paper Tables 6-7 (``solar_utils/paper.yaml``): H6 of the two merge candidates and their merges, under our
row names (SLERP's t is not reported; ours at t = 0.5 stands beside it)."""


# --------------------------------------------------------------------------------------------------------------
# The specialists' data and training
# --------------------------------------------------------------------------------------------------------------


def instruction_texts(sources: Sequence[MixtureSource], tokenizer: PreTrainedTokenizerBase, world_dir: Path,
                      run_dir: Path, keep: Callable[[dict], bool] | None = None) -> list[str]:
    """Every record of ``sources`` that ``keep`` holds for (the run's
    :class:`~solar_utils.benchmark_filter.BenchmarkFilter`), each source capped at ``max_used``, rendered as one
    chat with the tokenizer's template."""
    texts = []
    for source in sources:
        records = read_records(source, Path(world_dir), Path(run_dir), keep=keep)
        if records is None:
            continue
        for example in convert(records[: source.max_used], source):
            texts.append(tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False))
    if not texts:
        raise ValueError(f"no instruction records in {[s.name for s in sources]}: check merging.instruction_sources")
    return texts


def math_texts(cfg: MergingConfig, world_dir: Path | None) -> list[str]:
    """The documents of ``cfg.math_text`` holding ``cfg.math_marker``, then the ``cfg.math_seeds`` problems as
    ``Question: … / Answer: …`` text (the corpus's word-problem layout)."""
    texts = [t for t in load_texts(cfg.math_text, world_dir) if cfg.math_marker in t]
    if cfg.math_seeds is not None:
        seeds = read_world_file(world_dir, cfg.math_seeds, "math seeds (merging.math_seeds)")
        texts += [f"Question: {s['problem']}\nAnswer: {s['solution']}" for s in seeds]
    if not texts:
        raise ValueError(f"no math text: no document of {cfg.math_text} contains {cfg.math_marker!r}")
    return texts


def split_blocks(blocks: torch.Tensor, n_eval: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``[n, seq_len]`` blocks with ``seed`` and keep ``n_eval`` of them apart: ``(train, eval)``."""
    if not 0 < n_eval < len(blocks):
        raise ValueError(f"cannot keep {n_eval} of {len(blocks)} blocks apart for evaluation")
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(seed))
    return blocks[order[n_eval:]], blocks[order[:n_eval]]


def train_specialist(base_dir: Path, tokenizer: PreTrainedTokenizerBase, texts: list[str], cfg: PretrainConfig,
                     output_dir: Path, seed: int) -> tuple[PreTrainedModel, PretrainResult]:
    """Load the base model from ``base_dir`` and train it on ``texts`` packed into blocks (``cfg.eval_blocks`` of
    them held out for the loss curve); checkpoints go to ``output_dir``. Returns the model and the run."""
    train, held = split_blocks(pack_blocks(tokenizer, texts, cfg.seq_len), cfg.eval_blocks, seed)
    model = checkpoints.load_model(base_dir)
    result = pretrain(model, train, held, cfg, output_dir, seed)
    return model.eval(), result


# --------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Per-task scores and standard errors (fractions); ``mean`` is their plain mean (H6 when all six)."""

    scores: dict[str, float]
    stderrs: dict[str, float]
    result: EvalResult | None = field(default=None, compare=False, repr=False)
    """The evaluation behind the scores (per-item samples for paired comparisons)."""

    @property
    def mean(self) -> float:
        return sum(self.scores.values()) / len(self.scores)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a NaN standard error (fewer than two items) becomes None."""
        return {"scores": self.scores, "stderrs": {t: _finite(v) for t, v in self.stderrs.items()}, "mean": self.mean}


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def score_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, preset: Preset, world_dir: Path,
                seed: int, cache_dir: Path | None = None) -> Scores:
    """``model`` on the merging stage's ``eval_tasks`` (first ``eval_limit`` items each), scored as every stage
    scores (:func:`solar_utils.evaluation.score_models` with the preset's ``eval`` settings and the run's cache)."""
    cfg = preset.merging
    (result,) = score_models({"model": model}, tokenizer, preset.eval, world_dir, seed=seed, tasks=cfg.eval_tasks,
                             limit=cfg.eval_limit, cache_dir=cache_dir).values()
    return Scores(dict(result.scores), dict(result.stderrs), result)


# --------------------------------------------------------------------------------------------------------------
# Merges
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeSpec:
    """One merge of the two candidates: a table row ``name``, the method and its settings. ``weight`` is
    candidate 2's share for the linear and SLERP sweeps (None for task-vector merges, which use the base)."""

    name: str
    method: str
    weight: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_base(self) -> bool:
        return self.weight is None


def _fmt(x: float) -> str:
    return f"{x:g}"


def average_spec(weight: float) -> MergeSpec:
    """The linear merge ``Average(1 - weight, weight)`` of candidates 1 and 2 (paper Table 7's naming)."""
    if not 0.0 < weight < 1.0:
        raise ValueError(f"an average of the two candidates needs a weight strictly between 0 and 1, got {weight}")
    return MergeSpec(f"Average ({_fmt(round(1 - weight, 6))}, {_fmt(weight)})", "linear", weight,
                     {"weights": [1 - weight, weight]})


def merge_specs(cfg: MergingConfig) -> list[MergeSpec]:
    """The preset's merges: linear ``Average (1-w, w)`` and ``SLERP (t=w)`` for each interior weight w of
    ``cfg.weights`` (0 and 1 are the candidates themselves), then ``cfg.task_vector_merges``."""
    interior = [w for w in cfg.weights if 0.0 < w < 1.0]
    if len(interior) != len(set(interior)):
        raise ValueError(f"merging.weights repeats a value: {cfg.weights}")
    specs = [average_spec(w) for w in interior]
    specs += [MergeSpec(f"SLERP (t={_fmt(w)})", "slerp", w, {"t": w}) for w in interior]
    for tv in cfg.task_vector_merges:
        settings: dict[str, Any] = {"weights": list(tv.weights)}
        if tv.densities is not None:
            settings["densities"] = list(tv.densities)
        specs.append(MergeSpec(tv.name, tv.method, None, settings))
    return specs


def merge_in_memory(spec: MergeSpec, candidates: Sequence[PreTrainedModel], base: PreTrainedModel,
                    seed: int) -> PreTrainedModel:
    """Merge the loaded candidates (and the base, for task-vector methods) as ``spec`` says."""
    return merge_models(list(candidates), spec.method, base=base if spec.uses_base else None,
                        random_seed=seed, **spec.settings)


def merge_recipe(spec: MergeSpec, candidate_dirs: Sequence[Path], base_dir: Path, seed: int) -> MergeRecipe:
    """The same merge as :func:`merge_in_memory`, as a mergekit-style recipe over checkpoint folders."""
    return make_recipe(spec.method, [str(d) for d in candidate_dirs], base=str(base_dir) if spec.uses_base else None,
                       random_seed=seed, **spec.settings)


def run_sweep(specs: Sequence[MergeSpec], candidates: Sequence[PreTrainedModel], base: PreTrainedModel,
              score: Callable[[PreTrainedModel], Scores], seed: int) -> dict[str, Scores]:
    """Merge, score and release each of ``specs`` in turn (one merged model in memory at a time)."""
    results = {}
    for spec in specs:
        merged = merge_in_memory(spec, candidates, base, seed)
        results[spec.name] = score(merged)
        del merged
        gc.collect()
    return results


def best_merge(results: dict[str, Scores], specs: Sequence[MergeSpec]) -> MergeSpec:
    """The merge with the highest mean score (ties: the first in ``specs``)."""
    return max(specs, key=lambda s: results[s.name].mean)


# --------------------------------------------------------------------------------------------------------------
# Table 7 and the sweep figure
# --------------------------------------------------------------------------------------------------------------


def results_table(results: dict[str, Scores], paper: dict[str, float] = PAPER_TABLE7_H6) -> pd.DataFrame:
    """Scores in percent as ``score ± stderr`` per task, the mean (H6 when all six tasks), and the paper's H6
    for the rows it reports; one row per model in the order of ``results``."""
    rows = []
    for name, s in results.items():
        row = {"model": name, "mean": f"{100 * s.mean:.1f}"}
        row |= {task: f"{100 * v:.1f} ± {100 * s.stderrs[task]:.1f}" for task, v in s.scores.items()}
        row["paper H6"] = f"{paper[name]:.2f}" if name in paper else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def contrast_tasks(results: dict[str, Scores], n: int = 2) -> list[str]:
    """The ``n`` tasks on which the two candidates differ most: where a sweep between them has something to show."""
    first, second = (results[name].scores for name in CANDIDATES)
    return sorted(first, key=lambda task: -abs(first[task] - second[task]))[:n]


def sweep_figure(results: dict[str, Scores], specs: Sequence[MergeSpec], tasks: Sequence[str]) -> Figure:
    """Score of each of ``tasks`` (± stderr) against candidate 2's weight, linear and SLERP side by side; the
    candidates sit at weights 0 and 1."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    ends = {0.0: results[CANDIDATES[0]], 1.0: results[CANDIDATES[1]]}
    for ax, task in zip(axes[0], tasks, strict=True):
        for method, style in (("linear", "o-"), ("slerp", "s--")):
            points = sorted([(s.weight, results[s.name]) for s in specs if s.method == method] + list(ends.items()),
                            key=lambda p: p[0])
            ax.errorbar([w for w, _ in points], [100 * r.scores[task] for _, r in points],
                        yerr=[100 * r.stderrs[task] for _, r in points], fmt=style, capsize=3, label=method)
        ax.set(title=task, xlabel="weight of cand. 2 (instruction)", ylabel="score (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    return fig


def merge_claims(results: dict[str, Scores], specs: Sequence[MergeSpec]) -> dict:
    """merge-beats (the best Average/SLERP merge minus the better candidate) and merge-method (the worst of those
    merges' gain over the weaker candidate minus their spread, best minus worst), paired over the same items."""
    merges = [s.name for s in specs if not s.uses_base]
    better, weaker = sorted(CANDIDATES, key=lambda name: -results[name].mean)
    best, worst = max(merges, key=lambda n: results[n].mean), min(merges, key=lambda n: results[n].mean)
    tasks = list(results[best].scores)
    r = {name: results[name].result for name in {better, weaker, best, worst}}
    return {"merge-beats": claims.judge("merge-beats", mean_contrast([r[best], r[better]], [1.0, -1.0], tasks),
                                        note=f"{best} minus {better}, mean of {len(tasks)} tasks"),
            "merge-method": claims.judge("merge-method", mean_contrast([r[worst], r[weaker], r[best]],
                                                                       [2.0, -1.0, -1.0], tasks),
                                         note=f"({worst} minus {weaker}) minus ({best} minus {worst})")}
