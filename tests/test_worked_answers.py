"""GSM8K worked answers: does the first step start from the question, are the sums right (sft-math's note)."""

import pytest

from solar_utils.evaluation import EvalResult, worked_answers
from solar_utils.stages.instruction_tuning import math_and_merge_claims

REFERENCE = "Tom has 2 * 5 = 10 eggs.\nAfter giving 2 to Carl, Tom has 10 - 2 = 8 eggs left.\n#### 8"


def test_equations_are_read_in_order_with_or_without_spaces():
    assert worked_answers.equations("a 12 - 6 = 6 then 48/2 = 24, and 3 + x") == [(12, "-", 6, 6), (48, "/", 2, 24)]
    assert worked_answers.equations("#### 8") == []


@pytest.mark.parametrize("eq, right", [((5, "+", 4, 9), True), ((5, "+", 4, 12), False), ((12, "-", 6, 6), True),
                                       ((3, "*", 2, 8), False), ((12, "/", 4, 3), True), ((13, "/", 4, 3), False),
                                       ((1, "/", 0, 0), False)])
def test_is_right(eq, right):
    assert worked_answers.is_right(*eq) is right


def test_first_step_must_be_the_references_operation_on_the_same_numbers():
    assert worked_answers.starts_as_reference("Tom has 5 * 2 = 10 eggs.", REFERENCE)  # * commutes
    assert worked_answers.starts_as_reference("Tom has 2 * 5 = 12 eggs.", REFERENCE)  # a wrong sum still starts right
    assert not worked_answers.starts_as_reference("Iris has 6 * 6 = 24 eggs.", REFERENCE)  # numbers not the question's
    assert not worked_answers.starts_as_reference("Tom has 2 + 5 = 7 eggs.", REFERENCE)
    assert not worked_answers.starts_as_reference("#### 8", REFERENCE)
    assert not worked_answers.starts_as_reference("10 - 2 = 8", "2 - 10 = 8")  # - does not commute


def test_summary_counts_answers_and_equations():
    samples = [{"generation": "Tom has 2 * 5 = 10 eggs. Then 10 - 2 = 7.", "gold": REFERENCE},
               {"generation": "Iris has 6 * 6 = 24 eggs.", "gold": REFERENCE},
               {"generation": "I do not know.", "gold": REFERENCE}]
    stats = worked_answers.summary(samples)
    assert stats == {"items": 3, "first_step_as_reference": pytest.approx(1 / 3), "equations": 3,
                     "equations_right": pytest.approx(1 / 3)}
    assert worked_answers.describe("v2", stats) == ("v2: first step as the reference's in 1 of 3 answers, "
                                                    "33% of 3 equations right")
    assert worked_answers.summary(samples[2:])["equations_right"] == 0.0


def test_summary_refuses_what_is_not_generative_gsm8k():
    with pytest.raises(ValueError, match="no GSM8K samples"):
        worked_answers.summary([])
    with pytest.raises(ValueError, match="sample 1 has no 'generation' and 'gold'"):
        worked_answers.summary([{"generation": "1 + 1 = 2", "gold": "#### 2"}, {"index": 0, "acc": 1.0}])


def _gsm8k_result(generations: list[str], right: list[float]) -> EvalResult:
    samples = [{"index": i, "exact_match": r, "generation": g, "gold": REFERENCE}
               for i, (g, r) in enumerate(zip(generations, right))]
    return EvalResult({"gsm8k": sum(right) / len(right)}, {"gsm8k": 0.0}, {"gsm8k": samples})


def test_sft_math_note_says_what_each_variants_steps_show():
    results = {"v2": _gsm8k_result(["Iris has 6 * 6 = 24."] * 4, [0.0, 0.0, 1.0, 0.0]),
               "v3": _gsm8k_result(["Tom has 2 * 5 = 10. 10 - 2 = 8"] * 4, [1.0, 1.0, 1.0, 0.0])}
    record = math_and_merge_claims(results)["sft-math"]
    assert record["value"] == pytest.approx(0.5)
    assert record["note"] == ("v2: first step as the reference's in 0 of 4 answers, 0% of 4 equations right; "
                              "v3: first step as the reference's in 4 of 4 answers, 100% of 8 equations right")
