"""A paraphrase grammar over the tiny world's MATH-style templates (``solar_utils.world.mathseeds``).

A seed problem is matched back to its template, which recovers its numbers; a question is re-worded with one of
the template's alternative wordings and its answer re-derived by running the template's steps on the recovered
numbers (never copied from the seed). Worked answers are rendered from the steps in one of a few styles. This is
the offline stand-in for MetaMath's LLM rephrasing (arXiv 2309.12284): same contract, no model.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, replace

from solar_utils.world import problems
from solar_utils.world.mathseeds import LIMIT, TEMPLATES
from solar_utils.world.problems import Template

# Alternative wordings of each template's question (same fields as the template's own wording).
WORDINGS: dict[str, tuple[str, ...]] = {
    "trays": ("There are {a} trays with {b} rolls on each. After {c} rolls are sold, {d} more rolls are baked. "
              "How many rolls are there in the end?",
              "A bakery makes {a} trays holding {b} rolls each, sells {c} rolls, then bakes another {d}. Find the "
              "number of rolls it has now."),
    "egg_boxes": ("Each box holds {b} eggs. How many boxes are needed for {a} eggs?",
                  "{a} eggs are packed {b} to a box. Find the number of boxes that get filled."),
    "pencils": ("{c} children each get {b} pencils from a teacher who started with {a}. How many pencils remain?",
                "A teacher starts with {a} pencils. Each of {c} children receives {b}. Find the number of pencils "
                "the teacher keeps."),
    "jars": ("Out of {a} jars of honey, a shop sells {b} in the morning and double that in the afternoon. How many "
             "jars remain?",
             "A shop starts the day with {a} honey jars. It sells {b} before noon and twice that number after noon. "
             "Find how many jars are still unsold."),
    "share_eat": ("{b} children share {a} apples equally, and each eats {c}. How many apples does each child still "
                  "have?",
                  "Split {a} apples evenly among {b} children; then every child eats {c}. Find how many apples each "
                  "child keeps."),
    "rose_groups": ("There are {a} rows with {b} roses in each. After {c} roses are picked and {d} are planted, the "
                    "roses are split into {e} equal groups. How many roses does each group get?",
                    "A gardener has {a} rows of {b} roses, picks {c}, plants {d} more, and divides all the roses "
                    "evenly into {e} groups. Find the size of one group."),
    "order_ops": ("Evaluate ${a} + {b} \\times {c}$.", "Find the value of ${a} + {b} \\times {c}$."),
    "div_add": ("Evaluate ${a} \\div {b} + {c}$.", "Find the value of ${a} \\div {b} + {c}$."),
    "parens": ("Evaluate $({a} + {b}) \\times {c} - {d}$.", "Find the value of $({a} + {b}) \\times {c} - {d}$."),
    "x_plus": ("Find $x$ if $x + {b} = {c}$.", "Given $x + {b} = {c}$, solve for $x$."),
    "linear": ("Find $x$ such that ${a}x + {b} = {c}$.", "Given ${a}x + {b} = {c}$, what is $x$?"),
    "linear_minus": ("Solve ${a}x - {b} = {c}$ for $x$.", "Find $x$ given that ${a}x - {b} = {c}$."),
    "fraction": ("Solve $\\frac{{x}}{{{a}}} = {b}$ for $x$.", "If $x$ divided by {a} equals {b}, what is $x$?"),
    "remainder": ("Find the remainder of {a} divided by {b}.", "What is left over when {a} is divided by {b}?"),
    "gcd": ("Find the largest whole number that divides both {a} and {b}.",
            "What is the highest common factor of {a} and {b}?"),
    "next_multiple": ("Find the least multiple of {a} that exceeds {b}.",
                      "Which is the first multiple of {a} larger than {b}?"),
}

_LATEX_OP = {"+": "{x} + {y}", "-": "{x} - {y}", "*": "{x} \\times {y}", "/": "{x} \\div {y}",
             "//": "\\lfloor {x} \\div {y} \\rfloor", "gcd": "\\gcd({x}, {y})"}


@dataclass(frozen=True)
class Style:
    """How a worked answer is told: an opening, one connective per step (the last reused), a closing."""

    opening: str
    connectives: tuple[str, ...]
    closing: str


STYLES: tuple[Style, ...] = (
    Style("Let's think step by step.", ("First,", "Next,", "Then,"), "The answer is $\\boxed{{{answer}}}$."),
    Style("We work it out one step at a time.", ("Step 1:", "Step 2:", "Step 3:", "Step 4:"),
          "So the final answer is $\\boxed{{{answer}}}$."),
    Style("Here is the calculation.", ("We have", "This gives", "And"),
          "Therefore the answer is $\\boxed{{{answer}}}$."),
)


@dataclass(frozen=True)
class Parsed:
    """A seed matched to its template: the template and the numbers shown in the question."""

    template: Template
    numbers: dict[str, int]


def _pattern(question: str) -> re.Pattern[str]:
    """A regex matching ``question`` with its ``{field}`` numbers captured (repeated fields must agree)."""
    parts, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(question):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>\\d+)")
            seen.add(name)
    return re.compile("".join(parts) + r"\Z")


_PATTERNS = [(tpl, _pattern(tpl.question)) for tpl in TEMPLATES]


def parse(problem: str) -> Parsed | None:
    """The template and numbers behind ``problem``, or None if no template words it this way."""
    for tpl, pattern in _PATTERNS:
        match = pattern.match(problem)
        if match:
            return Parsed(tpl, {k: int(v) for k, v in match.groupdict().items()})
    return None


def derive(parsed: Parsed) -> dict[str, int] | None:
    """Every step's value, re-computed from the question's numbers (None if a step is not a whole number)."""
    return problems.solve(replace(parsed.template, derived=()), parsed.numbers, LIMIT)


def reword(parsed: Parsed, rng: random.Random) -> str:
    """One of the template's alternative wordings, filled with the parsed numbers."""
    return rng.choice(WORDINGS[parsed.template.id]).format(**{k: str(v) for k, v in parsed.numbers.items()})


def worked_answer(parsed: Parsed, values: dict[str, int], style: Style) -> str:
    """The template's steps told in ``style``, ending in the boxed answer."""
    sentences = [style.opening]
    for i, (name, expr, _) in enumerate(parsed.template.steps):
        left, op, right = expr.split()
        shown = _LATEX_OP[op].format(x=values.get(left, left), y=values.get(right, right))
        sentences.append(f"{style.connectives[min(i, len(style.connectives) - 1)]} ${shown} = {values[name]}$.")
    sentences.append(style.closing.format(answer=values[parsed.template.steps[-1][0]]))
    return " ".join(sentences)
