"""Notebook 05's report: chunk composition, H4 with its standard error, and the tables."""

import math
from types import SimpleNamespace

import pytest

from solar_utils.stages.alignment_sdpo import chunk_sources, h4, sdpo_table, steps_table

SCORES = {"arc": 0.4, "hellaswag": 0.8, "mmlu": 0.3, "truthfulqa": 0.5, "winogrande": 0.9, "gsm8k": 0.1}
STDERRS = {"arc": 0.04, "hellaswag": 0.04, "mmlu": 0.04, "truthfulqa": 0.04, "winogrande": 0.01, "gsm8k": 0.01}


def test_chunk_sources_counts_pairs_by_identity_not_by_value():
    same = {"prompt": [], "chosen": [], "rejected": []}
    a, b, c = dict(same), dict(same), dict(same)  # equal values, different sources
    assert chunk_sources([[a, c], [b]], {"x": [a, b], "y": [c]}) == [{"x": 1, "y": 1}, {"x": 1}]


def test_h4_is_the_mean_of_four_tasks_with_their_combined_stderr():
    value, error = h4(SCORES, STDERRS)
    assert value == pytest.approx(50.0) and error == pytest.approx(100 * math.sqrt(4 * 0.04**2) / 4)


def test_tables_show_ours_beside_the_paper():
    row = {"scores": SCORES, "stderrs": STDERRS, "h6": 0.5, "preference_accuracy": 0.9}
    table = sdpo_table({"sDPO (easy → hard)": row, "ours only": row})
    assert "| sDPO (easy → hard) | 50.0 ± 2.0 | 40.0 ± 4.0 |" in table and "| *74.31* |" in table
    assert table.splitlines()[-1].endswith("| 50.0 | 90.0 | – |")
    step = SimpleNamespace(step=2, reference_sha256="ab" * 32, gamma_reference=-1.77, gamma_sft=-5.79)
    assert "| sDPO | 2 | M_1 | `abababababab` | -1.77 | -5.79 |" in steps_table({"sDPO": SimpleNamespace(steps=[step])})
