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


def per_item(result: EvalResult, task: str) -> dict[int, tuple[str | None, float]]:
    """``{item index: (group, metric value)}`` of one task's samples."""
    metric = get_task(task).metric
    if task not in result.samples:
        raise KeyError(f"{task} was not scored in this result (scored: {sorted(result.samples)})")
    return {r["index"]: (r.get("group"), float(r[metric])) for r in result.samples[task]}


def paired_difference(a: EvalResult, b: EvalResult, task: str) -> Difference:
    """The difference of ``a`` and ``b`` on ``task``, paired item by item; both must have scored the same items."""
    task = get_task(task).name
    left, right = per_item(a, task), per_item(b, task)
    if left.keys() != right.keys():
        raise ValueError(f"{task}: the two results scored different items ({len(left)} vs {len(right)}; "
                         f"{len(left.keys() ^ right.keys())} not in both); score both with the same limit and source")
    gaps: dict[str | None, list[float]] = {}
    for index, (group, value) in left.items():
        gaps.setdefault(group, []).append(value - right[index][1])
    if list(gaps) == [None]:
        (d,) = gaps.values()
        return Difference(metrics.mean(d), metrics.mean_stderr(d), len(d))
    groups = [gaps[g] for g in sorted(gaps, key=str)]
    return Difference(metrics.mean([metrics.mean(d) for d in groups]),
                      metrics.unweighted_mean_stderr([metrics.mean_stderr(d) for d in groups]), len(left))


def paired_mean_difference(a: EvalResult, b: EvalResult, tasks: Sequence[str]) -> Difference:
    """The difference of the plain mean over ``tasks`` (H6, H4), with its paired standard error."""
    parts = [paired_difference(a, b, t) for t in tasks]
    return Difference(metrics.mean([p.value for p in parts]), metrics.unweighted_mean_stderr([p.stderr for p in parts]),
                      sum(p.items for p in parts))
