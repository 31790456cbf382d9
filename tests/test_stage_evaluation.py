"""Notebook 07's report helpers: chance levels, the Table 2 layout, the run's models."""

import math

from solar_utils.stages import evaluation as report
from solar_utils.evaluation.evaluator import EvalResult

ITEMS = {
    "arc": [{"choices": {"text": ["a", "b", "c", "d"]}}, {"choices": {"text": ["a", "b"]}}],
    "hellaswag": [{"endings": ["a", "b", "c", "d"]}],
    "mmlu": [{"choices": ["a", "b", "c", "d"]}],
    "truthfulqa": [{"mc2_targets": {"labels": [1, 1, 0, 0, 0]}}],
    "winogrande": [{}],
    "gsm8k": [{}],
}


def _result(score: float) -> EvalResult:
    scores = {t: score for t in report.COLUMNS}
    return EvalResult(scores=scores, stderrs={t: 0.01 for t in report.COLUMNS}, samples={})


def test_chance_levels_come_from_the_items():
    chance = report.chance_levels(ITEMS)
    assert math.isclose(chance["arc"], (0.25 + 0.5) / 2) and chance["truthfulqa"] == 0.4
    assert (chance["winogrande"], chance["gsm8k"], chance["mmlu"]) == (0.5, 0.0, 0.25)


def test_above_chance_needs_two_standard_errors():
    chance = report.chance_levels(ITEMS)
    flags = report.above_chance(_result(0.5), chance)
    assert flags["mmlu"] and flags["gsm8k"] and not flags["winogrande"]


def test_table_has_our_rows_chance_and_the_papers():
    table = report.h6_table({"base": _result(0.5)}, report.chance_levels(ITEMS)).splitlines()
    assert table[0].startswith("| model | H6 | ARC | HellaSwag | MMLU | TruthfulQA | Winogrande | GSM8K |")
    assert table[2].startswith("| base | 50.00 | 50.0 ± 1.0")
    assert table[3].startswith("| chance |") and "SOLAR 10.7B-Instruct* | 74.20 | 71.08" in table[4]


def test_run_models_lists_stage_checkpoints_in_order(tmp_path):
    for stage in ("01_depth_up_scaling", "00_base_model", "03_synthetic_math"):
        (tmp_path / stage).mkdir()
    for stage in ("00_base_model", "01_depth_up_scaling"):
        (tmp_path / stage / "model").mkdir()
        (tmp_path / stage / "model" / "config.json").write_text("{}")
    assert list(report.run_models(tmp_path)) == ["00_base_model", "01_depth_up_scaling"]
