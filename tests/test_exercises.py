import json

import pytest

from solar_utils import exercises
from solar_utils.exercises import (check_added_parameters, check_heldout_loss, check_layer_map, student_copy,
                                   write_student_copies)

MISTRAL = dict(base=7_241_732_096, upscaled=10_731_524_096, per_layer=218_112_000, n=32, m=8)


def test_the_layer_map_check_accepts_the_map_and_teaches_what_is_wrong():
    assert check_layer_map([0, 1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7, 8, 9], n=10, m=3).ok
    assert "14 layers expected" in check_layer_map(list(range(10)) * 2, n=10, m=3).message
    assert "2·(n − m)" in check_layer_map(list(range(12)), n=10, m=3).message
    wrong_first = list(range(3, 10)) + list(range(3, 10))
    assert "first copy keeps the bottom" in check_layer_map(wrong_first, n=10, m=3).message
    wrong_second = list(range(7)) + list(range(7))
    assert "starts at layer 3" in check_layer_map(wrong_second, n=10, m=3).message
    assert "as a list" in check_layer_map("0-6, 3-9", n=10, m=3).message
    assert not check_layer_map(None, n=10, m=3).ok


def test_the_parameter_check_names_the_quantity_that_was_counted_instead():
    assert check_added_parameters(3_489_792_000, **MISTRAL).ok
    assert check_added_parameters(3.49e9, **MISTRAL).ok
    assert "whole up-scaled model" in check_added_parameters(10_731_524_096, **MISTRAL).message
    assert "one decoder layer" in check_added_parameters(218_112_000, **MISTRAL).message
    assert "subtract the n layers" in check_added_parameters(48 * 218_112_000, **MISTRAL).message
    assert "count the layers" in check_added_parameters(1e9, **MISTRAL).message
    assert not check_added_parameters(float("nan"), **MISTRAL).ok and not check_added_parameters(True, **MISTRAL).ok


def test_the_loss_check_says_which_model_was_scored_instead():
    others = {"the base model": 0.7355, "the DUS model with m = 2": 0.8156}
    assert check_heldout_loss(0.81675, 0.8167, others).ok
    assert "the base model" in check_heldout_loss(0.7356, 0.8167, others).message
    assert "m = 2" in check_heldout_loss(0.8157, 0.8167, others).message
    assert "heldout_loss" in check_heldout_loss(2.0, 0.8167, others).message
    assert "✅" in str(check_heldout_loss(0.8167, 0.8167, others)) and "❌" in str(check_heldout_loss(1, 0.8, {}))


def test_a_missing_run_names_the_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 01_depth_up_scaling"):
        exercises.run_metrics(tmp_path, "01_depth_up_scaling")


def test_student_copies_drop_the_solutions_and_are_up_to_date(tmp_path):
    solutions = sorted((exercises.EXERCISES_DIR / "solutions").glob("*.ipynb"))
    assert solutions, "no solution notebooks"
    for solution in solutions:
        source = json.loads(solution.read_text())
        student = json.loads((exercises.EXERCISES_DIR / solution.name).read_text())
        assert student == student_copy(source), f"{solution.name}: run `python -m solar_utils.exercises`"
        tagged = [c for c in source["cells"] if exercises.SOLUTION_TAG in c["metadata"].get("tags", [])]
        assert tagged and all(c["source"] != exercises.ANSWER_CELL for c in tagged)
        answers = [c for c in student["cells"] if "answer" in c["metadata"].get("tags", [])]
        assert len(answers) == len(tagged) and all(c["source"] == exercises.ANSWER_CELL for c in answers)
        assert not any(exercises.SOLUTION_TAG in c["metadata"].get("tags", []) for c in student["cells"])
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / solutions[0].name).write_text(solutions[0].read_text())
    assert write_student_copies(tmp_path) == [tmp_path / solutions[0].name]


def test_the_token_check_names_sequences_and_single_steps():
    assert exercises.check_tokens(60 * 8 * 256, 60, 8, 256).ok
    assert "counts sequences" in exercises.check_tokens(480, 60, 8, 256).message
    assert "one step" in exercises.check_tokens(2048, 60, 8, 256).message
    assert "whole number" in exercises.check_tokens(1.2e5, 60, 8, 256).message


def test_the_recovery_check_finds_the_first_step_back_at_the_target():
    curve = [(0, 0.80), (5, 0.75), (10, 0.70), (15, 0.69)]
    assert exercises.check_recovery_step(10, curve, 0.70).ok
    assert "still above" in exercises.check_recovery_step(5, curve, 0.70).message
    assert "earlier evaluated step" in exercises.check_recovery_step(15, curve, 0.70).message
    assert "one of the evaluated steps" in exercises.check_recovery_step(7, curve, 0.70).message
    assert exercises.check_recovery_step(None, curve, 0.60).ok and not exercises.check_recovery_step(None, curve, 0.7).ok


def test_the_paired_error_check_names_the_unpaired_error_and_points():
    assert exercises.check_paired_error(0.0358, 0.03581, 0.0488).ok
    assert "unpaired error" in exercises.check_paired_error(0.0488, 0.03581, 0.0488).message
    assert "in points" in exercises.check_paired_error(3.581, 0.03581, 0.0488).message
    assert "per-item scores" in exercises.check_paired_error(0.01, 0.03581, 0.0488).message


def test_a_choice_is_checked_by_its_letter_with_a_hint_per_wrong_one():
    hints = {"A": "that is plain DPO", "C": "DPO always needs a reference"}
    assert exercises.check_choice(" b) M_1", "B", hints, "it hands over").ok
    assert exercises.check_choice("a", "B", hints, "").message == "that is plain DPO"
    assert "one of the letters A, B, C" in exercises.check_choice("E", "B", hints, "").message
    assert not exercises.check_choice(None, "B", hints, "").ok


def test_a_number_is_checked_within_its_tolerance_and_names_its_confusions():
    confusions = {"the gap with the wrong sign": -4.0}
    assert exercises.check_number(4.0005, 4.0, tol=1e-3, what="nats", confusions=confusions, how="subtract").ok
    assert exercises.check_number(-4.0, 4.0, tol=1e-3, what="nats", confusions=confusions, how="").message == \
        "that is the gap with the wrong sign"
    assert exercises.check_number(3.0, 4.0, tol=1e-3, what="nats", confusions=confusions, how="subtract").message == \
        "subtract"
    assert "give nats as a number" in exercises.check_number("4", 4.0, tol=1, what="nats", confusions={}, how="").message
