"""Paired differences: two models scored on the same items, judged by the standard error of their per-item gaps.

Two models' scores on the same items are strongly correlated (easy items are easy for both), so the error of
their difference is much smaller than ``hypot`` of their two standard errors. Following Miller, "Adding Error Bars
to Evals" (arXiv 2411.00640), the paired standard error of a task is ``mean_stderr`` of the per-item
differences ``d_i = a_i - b_i``. A task whose score is a plain mean of subject means (MMLU) is differenced per
subject and combined as the leaderboard combines subjects (``unweighted_mean_stderr``); a mean of tasks (H6, H4)
combines its tasks' paired differences the same way (tasks hold disjoint items, so their errors are independent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from solar_utils.evaluation import metrics
from solar_utils.evaluation.evaluator import EvalResult
from solar_utils.evaluation.tasks import get_task


@dataclass(frozen=True)
class Difference:
    """``a - b`` as a fraction, its paired standard error, and the number of items it rests on."""

    value: float
    stderr: float
    items: int

    def z(self) -> float:
        """The difference in units of its standard error (``inf`` for a nonzero gap with zero error)."""
        if self.stderr == 0:
            return math.copysign(math.inf, self.value) if self.value else 0.0
        return self.value / self.stderr


def from_gaps(gaps: Sequence[float]) -> Difference:
    """The mean of per-item differences (e.g. per held-out block losses of two models) and its paired error."""
    gaps = [float(g) for g in gaps]
    return Difference(metrics.mean(gaps), metrics.mean_stderr(gaps), len(gaps))


def per_item(result: EvalResult, task: str) -> dict[int, tuple[str | None, float]]:
    """``{item index: (group, metric value)}`` of one task's samples."""
    metric = get_task(task).metric
    if task not in result.samples:
        raise KeyError(f"{task} was not scored in this result (scored: {sorted(result.samples)})")
    return {r["index"]: (r.get("group"), float(r[metric])) for r in result.samples[task]}


def paired_contrast(results: Sequence[EvalResult], weights: Sequence[float], task: str) -> Difference:
    """``sum_k w_k * score_k`` of several results on ``task``, paired item by item (``[1, -1]``: a difference).

    Every result must have scored the same items: each item contributes ``sum_k w_k x_ik``, whose mean and
    ``mean_stderr`` are the contrast and its paired error (per subject for MMLU, combined as the leaderboard does).
    """
    task = get_task(task).name
    if len(results) != len(weights) or not results:
        raise ValueError(f"{task}: {len(results)} results for {len(weights)} weights")
    tables = [per_item(r, task) for r in results]
    for table in tables[1:]:
        if table.keys() != tables[0].keys():
            raise ValueError(f"{task}: the results scored different items ({len(tables[0])} vs {len(table)}; "
                             f"{len(tables[0].keys() ^ table.keys())} not in both); score them with the same limit "
                             "and source")
    gaps: dict[str | None, list[float]] = {}
    for index, (group, _) in tables[0].items():
        gaps.setdefault(group, []).append(sum(w * table[index][1] for w, table in zip(weights, tables, strict=True)))
    if list(gaps) == [None]:
        return from_gaps(gaps[None])
    groups = [gaps[g] for g in sorted(gaps, key=str)]
    return Difference(metrics.mean([metrics.mean(d) for d in groups]),
                      metrics.unweighted_mean_stderr([metrics.mean_stderr(d) for d in groups]), len(tables[0]))


def paired_difference(a: EvalResult, b: EvalResult, task: str) -> Difference:
    """The difference of ``a`` and ``b`` on ``task``, paired item by item; both must have scored the same items."""
    return paired_contrast([a, b], [1.0, -1.0], task)


def mean_contrast(results: Sequence[EvalResult], weights: Sequence[float], tasks: Sequence[str]) -> Difference:
    """A contrast of the plain mean over ``tasks`` (H6, H4), with its paired standard error (tasks independent)."""
    parts = [paired_contrast(results, weights, t) for t in tasks]
    return Difference(metrics.mean([p.value for p in parts]), metrics.unweighted_mean_stderr([p.stderr for p in parts]),
                      sum(p.items for p in parts))


def paired_mean_difference(a: EvalResult, b: EvalResult, tasks: Sequence[str]) -> Difference:
    """The difference of the plain mean over ``tasks`` (H6, H4), with its paired standard error."""
    return mean_contrast([a, b], [1.0, -1.0], tasks)
