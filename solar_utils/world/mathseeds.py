"""MATH-style seed problems (hendrycks MATH schema) for the Synth. Math-Instruct / -Alignment stage.

As in the paper, seeds share no template with the GSM8K evaluation items; they do practise the skills that the
held-out GSM8K forms need (three steps, division, "twice as many"), so a math stage can lift GSM8K.
"""

from __future__ import annotations

from solar_utils.world import problems
from solar_utils.world.config import WorldConfig
from solar_utils.world.phrasing import cycle, stream
from solar_utils.world.problems import Template

LIMIT = 200

TEMPLATES: tuple[Template, ...] = (
    Template("trays", "A baker bakes {a} trays of rolls with {b} rolls on each tray. The baker sells {c} rolls and "
             "then bakes {d} more. How many rolls does the baker have now?",
             (("a", 2, 8), ("b", 3, 12), ("c", 1, 20), ("d", 1, 20)),
             (("r1", "a * b", "The trays hold ${a} \\times {b} = {r1}$ rolls."),
              ("r2", "r1 - c", "After selling {c}, there are ${r1} - {c} = {r2}$ rolls."),
              ("r3", "r2 + d", "Baking {d} more gives ${r2} + {d} = {r3}$.")), level=2),
    Template("egg_boxes", "A farmer packs {a} eggs into boxes that hold {b} eggs each. How many boxes does the "
             "farmer fill?", (("a", 6, 120), ("b", 2, 12)),
             (("r1", "a / b", "The farmer fills ${a} \\div {b} = {r1}$ boxes."),), level=1),
    Template("pencils", "A teacher has {a} pencils and gives {b} pencils to each of {c} children. How many pencils "
             "does the teacher have left?", (("a", 20, 120), ("b", 2, 9), ("c", 2, 9)),
             (("r1", "b * c", "The children get ${b} \\times {c} = {r1}$ pencils."),
              ("r2", "a - r1", "The teacher has ${a} - {r1} = {r2}$ left.")), level=2),
    Template("jars", "A shop has {a} jars of honey. It sells {b} jars in the morning and twice as many in the "
             "afternoon. How many jars are left?", (("a", 20, 150), ("b", 2, 30)),
             (("r1", "b * 2", "In the afternoon it sells ${b} \\times 2 = {r1}$ jars."),
              ("r2", "b + r1", "In all it sells ${b} + {r1} = {r2}$ jars."),
              ("r3", "a - r2", "So ${a} - {r2} = {r3}$ jars are left.")), level=3),
    Template("share_eat", "{a} apples are shared equally among {b} children. Each child then eats {c} of them. How "
             "many apples does each child have left?", (("a", 6, 120), ("b", 2, 12), ("c", 1, 5)),
             (("r1", "a / b", "Each child gets ${a} \\div {b} = {r1}$ apples."),
              ("r2", "r1 - c", "After eating {c}, each child has ${r1} - {c} = {r2}$.")), level=2),
    Template("rose_groups", "A garden has {a} rows of {b} roses. The gardener picks {c} roses, plants {d} new ones, "
             "and then splits all the roses into {e} equal groups. How many roses are in each group?",
             (("a", 2, 9), ("b", 2, 12), ("c", 1, 20), ("d", 1, 20), ("e", 2, 6)),
             (("r1", "a * b", "There are ${a} \\times {b} = {r1}$ roses."),
              ("r2", "r1 - c", "After picking, ${r1} - {c} = {r2}$ remain."),
              ("r3", "r2 + d", "After planting, there are ${r2} + {d} = {r3}$."),
              ("r4", "r3 / e", "Each group has ${r3} \\div {e} = {r4}$ roses.")), level=4),
    Template("order_ops", "Compute ${a} + {b} \\times {c}$.", (("a", 1, 50), ("b", 2, 12), ("c", 2, 12)),
             (("r1", "b * c", "Multiplication comes first: ${b} \\times {c} = {r1}$."),
              ("r2", "a + r1", "Then ${a} + {r1} = {r2}$.")), level=1),
    Template("div_add", "What is ${a} \\div {b} + {c}$?", (("a", 4, 144), ("b", 2, 12), ("c", 1, 50)),
             (("r1", "a / b", "Division comes first: ${a} \\div {b} = {r1}$."),
              ("r2", "r1 + c", "Then ${r1} + {c} = {r2}$.")), level=2),
    Template("parens", "Compute $({a} + {b}) \\times {c} - {d}$.", (("a", 1, 20), ("b", 1, 20), ("c", 2, 6),
                                                                   ("d", 1, 30)),
             (("r1", "a + b", "Inside the parentheses, ${a} + {b} = {r1}$."),
              ("r2", "r1 * c", "Then ${r1} \\times {c} = {r2}$."),
              ("r3", "r2 - d", "Finally ${r2} - {d} = {r3}$.")), level=3),
    Template("x_plus", "If $x + {b} = {c}$, what is the value of $x$?", (("x", 1, 60), ("b", 1, 60)),
             (("r1", "c - b", "Subtract {b} from both sides: $x = {c} - {b} = {r1}$."),),
             derived=(("c", "x + b"),), level=1, type="Algebra"),
    Template("linear", "Solve for $x$: ${a}x + {b} = {c}$.", (("a", 2, 9), ("x", 1, 15), ("b", 1, 40)),
             (("r1", "c - b", "Subtract {b} from both sides: ${a}x = {c} - {b} = {r1}$."),
              ("r2", "r1 / a", "Divide by {a}: $x = {r1} \\div {a} = {r2}$.")),
             derived=(("t", "a * x"), ("c", "t + b")), level=2, type="Algebra"),
    Template("linear_minus", "If ${a}x - {b} = {c}$, what is $x$?", (("a", 2, 9), ("x", 2, 15), ("b", 1, 10)),
             (("r1", "c + b", "Add {b} to both sides: ${a}x = {c} + {b} = {r1}$."),
              ("r2", "r1 / a", "Divide by {a}: $x = {r1} \\div {a} = {r2}$.")),
             derived=(("t", "a * x"), ("c", "t - b")), level=3, type="Algebra"),
    Template("fraction", "What is $x$ if $\\frac{{x}}{{{a}}} = {b}$?", (("a", 2, 12), ("b", 1, 15)),
             (("r1", "b * a", "Multiply both sides by {a}: $x = {b} \\times {a} = {r1}$."),),
             level=1, type="Algebra"),
    Template("remainder", "What is the remainder when {a} is divided by {b}?", (("a", 10, 150), ("b", 3, 12)),
             (("q", "a // b", "{b} goes into {a} a whole {q} times."),
              ("m", "b * q", "Since ${b} \\times {q} = {m}$,"),
              ("r", "a - m", "the remainder is ${a} - {m} = {r}$.")), level=1, type="Number Theory"),
    Template("gcd", "What is the greatest common divisor of {a} and {b}?", (("a", 6, 120), ("b", 6, 120)),
             (("g", "a gcd b", "The largest number that divides both {a} and {b} is {g}."),),
             level=3, type="Number Theory"),
    Template("next_multiple", "What is the smallest multiple of {a} that is greater than {b}?",
             (("a", 3, 15), ("b", 10, 150)),
             (("q", "b // a", "Since ${b} \\div {a}$ rounds down to {q},"),
              ("q1", "q + 1", "the next whole number is {q1},"),
              ("r", "q1 * a", "so the multiple is ${q1} \\times {a} = {r}$.")), level=2, type="Number Theory"),
)


def build_math_seeds(cfg: WorldConfig, seed: int) -> list[dict]:
    """``n_math_seeds`` problems, templates in turn: {"id", "problem", "solution", "level", "type"}."""
    rng = stream(seed, "math")
    templates = cycle(rng, TEMPLATES)
    out = []
    for i in range(cfg.n_math_seeds):
        tpl = next(templates)
        p = problems.sample(rng, tpl, LIMIT)
        solution = " ".join(p.steps) + f" So the answer is $\\boxed{{{p.answer}}}$."
        out.append({"id": f"math_seed_{i:05d}", "problem": p.question, "solution": solution,
                    "level": f"Level {tpl.level}", "type": tpl.type})
    return out
