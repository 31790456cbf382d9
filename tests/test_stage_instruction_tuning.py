import pytest

from solar_utils.stages.instruction_tuning import answers, final_answer


@pytest.mark.parametrize("text, expected", [
    ("Let's think step by step. First, $2 \\times 6 = 12$. The answer is $\\boxed{12}$.", "12"),
    ("Maya likes carrots best. So the answer is A.", "a"),
    ("15 + 19 = 34. The answer is 34.", "34"),
    ("Half of 7 is 3.5. The answer is 3.5.", "3 5"),
    ("The frog croaks.", None),
])
def test_final_answer(text, expected):
    assert final_answer(text) == expected


@pytest.mark.parametrize("reply, reference, expected", [
    # a stated final answer: any wording around it, or the bare answer
    ("Here is the calculation. We have $7 - 3 = 4$. So $x = 4$. The answer is $\\boxed{4}$.",
     "We work it out one step at a time. Step 1: $7 - 3 = 4$. So the final answer is $\\boxed{4}$.", True),
    ("The answer is $\\boxed{5}$.", "The answer is $\\boxed{4}$.", False),
    ("A", "Maya likes carrots best. So the answer is A.", True),
    ("Maya likes bread best. So the answer is B.", "Maya likes carrots best. So the answer is A.", False),
    # a bare letter must be the whole reply
    ("B", "B", True),
    ("B. bread", "B", False),
    ("Dogs bark.", "D", False),
    # sentences: each one, in any order, wording aside
    ("an elephant is bigger than a cricket", "An elephant is bigger than a cricket.", True),
    ("A whale is bigger than a cricket.", "An elephant is bigger than a cricket.", False),
    ("The sheep eats grass. The sheep baas.", "The sheep baas. The sheep eats grass.", True),
    ("The sheep baas.", "The sheep baas. The sheep eats grass.", False),
    ("A fisher uses a net.", "28 + 17 = 45.", False),
    ("28 + 17 = 45.", "28 + 17 = 45.", True),
])
def test_answers_checks_the_worlds_answer_not_the_wording(reply, reference, expected):
    assert answers(reply, reference) is expected
