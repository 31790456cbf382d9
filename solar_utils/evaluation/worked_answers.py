"""What a model's GSM8K worked answers show beyond the final number: whether they start from the question.

GSM8K's exact match says only whether the last number is right, and at a few percent that can be luck. Two
properties of the generated steps say why: does the first step compute what the reference's first step computes
(the same operator on the same numbers, read from the question), and are the steps' sums right? A model that
writes well-formed steps over numbers it did not read from the question is guessing, whatever its score.
Equations are ``a op b = c`` with whole numbers and ``+ - * /`` (GSM8K's reference solutions write them so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

EQUATION = re.compile(r"(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(\d+)")
COMMUTATIVE = {"+", "*"}


def equations(text: str) -> list[tuple[int, str, int, int]]:
    """Every ``a op b = c`` in ``text``, in order."""
    return [(int(a), op, int(b), int(c)) for a, op, b, c in EQUATION.findall(text)]


def is_right(a: int, op: str, b: int, c: int) -> bool:
    """Whether ``a op b`` equals ``c`` (``/`` must divide exactly)."""
    if op == "/":
        return b != 0 and a == b * c
    return {"+": a + b, "-": a - b, "*": a * b}[op] == c


def _step(eq: tuple[int, str, int, int]) -> tuple[str, tuple[int, ...]]:
    a, op, b, _ = eq
    return op, tuple(sorted((a, b))) if op in COMMUTATIVE else (a, b)


def starts_as_reference(generation: str, reference: str) -> bool:
    """Whether the generation's first equation applies the reference's first operator to the same two numbers
    (either order for ``+`` and ``*``); the result it writes may be wrong."""
    ours, theirs = equations(generation), equations(reference)
    return bool(ours and theirs) and _step(ours[0]) == _step(theirs[0])


def summary(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Over GSM8K samples (``generation`` and ``gold`` per item, as the scorer records them): the share of answers
    whose first step is the reference's, and the share of all generated equations that are right."""
    if not samples:
        raise ValueError("no GSM8K samples to summarise")
    missing = next((i for i, s in enumerate(samples) if not {"generation", "gold"} <= set(s)), None)
    if missing is not None:
        raise ValueError(f"GSM8K sample {missing} has no 'generation' and 'gold' (not a generative GSM8K record)")
    written = [eq for s in samples for eq in equations(s["generation"])]
    return {"items": len(samples),
            "first_step_as_reference": sum(starts_as_reference(s["generation"], s["gold"]) for s in samples)
            / len(samples),
            "equations": len(written),
            "equations_right": sum(is_right(*eq) for eq in written) / len(written) if written else 0.0}


def describe(name: str, stats: dict[str, Any]) -> str:
    """One line, e.g. "v3: first step as the reference's in 2 of 100 answers, 11% of 160 equations right"."""
    return (f"{name}: first step as the reference's in {round(stats['first_step_as_reference'] * stats['items'])} of "
            f"{stats['items']} answers, {stats['equations_right']:.0%} of {stats['equations']} equations right")
