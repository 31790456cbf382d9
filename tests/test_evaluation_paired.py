"""Paired differences of two results on the same items: values, errors, MMLU's subjects, H6-style means."""

import math

import pytest

from solar_utils.evaluation import EvalResult, metrics
from solar_utils.evaluation.paired import (Difference, mean_contrast, paired_contrast, paired_difference,
                                           paired_mean_difference)


def result(task: str, values: list[float], metric: str, groups: list[str] | None = None) -> EvalResult:
    samples = [{"index": i, metric: v} | ({"group": groups[i]} if groups else {}) for i, v in enumerate(values)]
    return EvalResult({}, {}, {task: samples})


def test_paired_error_is_the_error_of_the_per_item_gaps():
    a = result("arc", [1, 1, 0, 1, 0, 1, 1, 0], "acc_norm")
    b = result("arc", [1, 0, 0, 1, 0, 1, 0, 0], "acc_norm")
    diff = paired_difference(a, b, "arc")
    assert diff.value == pytest.approx(0.25) and diff.items == 8
    assert diff.stderr == pytest.approx(metrics.mean_stderr([0, 1, 0, 0, 0, 0, 1, 0]))
    unpaired = math.hypot(metrics.mean_stderr([1, 1, 0, 1, 0, 1, 1, 0]), metrics.mean_stderr([1, 0, 0, 1, 0, 1, 0, 0]))
    assert diff.stderr < unpaired
    assert paired_difference(a, a, "arc") == Difference(0.0, 0.0, 8) and paired_difference(a, a, "arc").z() == 0
    assert paired_difference(a, b, "arc").z() == pytest.approx(0.25 / diff.stderr)


def test_mmlu_is_differenced_per_subject_and_averaged_over_subjects():
    groups = ["x", "x", "x", "x", "y", "y"]
    a = result("mmlu", [1, 1, 1, 1, 0, 1], "acc", groups)
    b = result("mmlu", [0, 0, 1, 1, 0, 0], "acc", groups)
    diff = paired_difference(a, b, "mmlu")
    assert diff.value == pytest.approx((0.5 + 0.5) / 2)  # macro average, not 3/6 of the items
    assert diff.stderr == pytest.approx(math.hypot(metrics.mean_stderr([1, 1, 0, 0]), metrics.mean_stderr([0, 1])) / 2)


def test_a_mean_of_tasks_combines_the_tasks_errors():
    a = EvalResult({}, {}, {**result("arc", [1, 0, 1, 1], "acc_norm").samples,
                            **result("gsm8k", [1, 1, 0, 0], "exact_match").samples})
    b = EvalResult({}, {}, {**result("arc", [0, 0, 1, 1], "acc_norm").samples,
                            **result("gsm8k", [0, 0, 0, 0], "exact_match").samples})
    arc, gsm8k = paired_difference(a, b, "arc"), paired_difference(a, b, "gsm8k")
    mean = paired_mean_difference(a, b, ["arc", "gsm8k"])
    assert mean.value == pytest.approx((arc.value + gsm8k.value) / 2) and mean.items == 8
    assert mean.stderr == pytest.approx(math.hypot(arc.stderr, gsm8k.stderr) / 2)


def test_different_items_or_a_missing_task_are_refused():
    a, b = result("arc", [1, 0, 1], "acc_norm"), result("arc", [1, 0], "acc_norm")
    with pytest.raises(ValueError, match="arc: the results scored different items"):
        paired_difference(a, b, "arc")
    with pytest.raises(KeyError, match="gsm8k was not scored"):
        paired_difference(a, a, "gsm8k")


def test_a_contrast_of_three_models_is_paired_item_by_item():
    a, b, c = (result("winogrande", v, "acc") for v in ([1, 1, 0, 1], [1, 0, 0, 1], [0, 0, 0, 1]))
    contrast = paired_contrast([a, b, c], [2.0, -1.0, -1.0], "winogrande")
    per_item = [2 * x - y - z for x, y, z in zip([1, 1, 0, 1], [1, 0, 0, 1], [0, 0, 0, 1])]
    assert contrast.value == pytest.approx(metrics.mean(per_item))
    assert contrast.stderr == pytest.approx(metrics.mean_stderr(per_item))
    assert mean_contrast([a, b, c], [2.0, -1.0, -1.0], ["winogrande"]) == contrast
    with pytest.raises(ValueError, match="3 results for 2 weights"):
        paired_contrast([a, b, c], [1.0, -1.0], "winogrande")
