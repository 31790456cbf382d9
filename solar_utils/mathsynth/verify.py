"""Verification of generated solutions: extract the final ``\\boxed{...}`` answer and compare it with the seed's.

As in MetaMath (arXiv 2309.12284, section 3), a generated solution is kept only if its final answer equals the
ground truth. Answers are compared with sympy after a LaTeX clean-up (``\\frac``/``\\dfrac``, ``\\times``,
``\\div``, units, ``\\%``, degrees, thousands separators); an answer sympy cannot read is compared as normalised
text. Nothing here raises on bad input: every failure is a reason string that the funnel counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy
from sympy.parsing.sympy_parser import implicit_multiplication, parse_expr, standard_transformations

from solar_utils.mathsynth.records import Generation, Removed

if TYPE_CHECKING:
    from solar_utils.mathsynth.seeds import Seed

BOXED = ("\\boxed", "\\fbox")
MAX_ANSWER_CHARS = 80
_TRANSFORMS = (*standard_transformations, implicit_multiplication)  # "2x", "3pi"; no implicit function calls
_SAFE = re.compile(r"^[0-9a-z+\-*/(). ]+$")
_NAMES = {"pi", "sqrt"}  # the only multi-letter names an answer may use
_HUGE_POWER = re.compile(r"\*\*\s*\(?\s*\d{4,}|\*\*.*\*\*")
_FRAC = re.compile(r"\\frac\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\d)\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\d)")
_SQRT = re.compile(r"\\sqrt\s*(\{[^{}]*\}|\d)")
_UNIT_WORDS = re.compile(r"^\s*([-+]?[\d.,/]+)\s*[a-zA-Z][a-zA-Z ]*\s*$")
_TEXT = re.compile(r"\\(?:text|textbf|mbox|mathrm)\s*\{([^{}]*)\}")
_LATEX_NOISE = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "^\\circ", "^{\\circ}", "\\circ", "\\%", "%",
                "\\$", "$", "\\displaystyle")
_LATEX_OPS = {"\\cdot": "*", "\\times": "*", "\\div": "/", "\\pi": "pi", "^": "**", "{": "(", "}": ")", "[": "(",
              "]": ")"}

# Reasons a generated record (or a seed) is rejected at the verification step.
NO_BOXED, UNPARSABLE, WRONG = "no boxed answer", "unparsable answer", "wrong answer"


def extract_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, nested braces included."""
    start = max(text.rfind(cmd + "{") for cmd in BOXED)
    if start < 0:
        return None
    open_at = text.index("{", start)
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1: i].strip()
    return None


def _strip_units(answer: str) -> str:
    """Drop ``\\text{...}`` units after a value (keep the text when it is the whole answer) and trailing words."""
    without = _TEXT.sub("", answer).strip()
    answer = without if without else _TEXT.sub(r"\1", answer)
    match = _UNIT_WORDS.match(answer)
    return match.group(1) if match else answer


def normalise_answer(answer: str) -> str:
    """A LaTeX answer as plain text for comparison: no ``$``, units, spacing, ``\\left``; ``x = 5`` becomes ``5``."""
    answer = answer.strip().rstrip(".")
    if re.fullmatch(r"[a-zA-Z]\s*=.*", answer):
        answer = answer.split("=", 1)[1]
    for noise in _LATEX_NOISE:
        answer = answer.replace(noise, "")
    answer = _strip_units(answer)
    answer = re.sub(r"(\d),(\d{3})(?!\d)", r"\1\2", answer)
    return re.sub(r"\s+", " ", answer).strip()


def to_sympy(answer: str) -> sympy.Expr | None:
    """Parse a normalised answer with sympy, or None when it is not safely readable as an expression.

    Only a whitelist of characters and names (single letters, ``pi``, ``sqrt``) reaches ``parse_expr``, which
    evaluates Python, with the standard transformations plus implicit multiplication; towers of powers and huge
    exponents are refused so that no comparison can run for long.
    """
    text = answer.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    for _ in range(3):
        text = _FRAC.sub(lambda m: f"({m.group(1)})/({m.group(2)})", text)
    text = _SQRT.sub(lambda m: f"sqrt({m.group(1)})", text)
    for latex, plain in _LATEX_OPS.items():
        text = text.replace(latex, plain)
    if not text or len(text) > MAX_ANSWER_CHARS or not _SAFE.match(text) or _HUGE_POWER.search(text):
        return None
    if any(len(name) > 1 and name not in _NAMES for name in re.findall(r"[a-z]+", text)):
        return None
    try:
        return parse_expr(text, transformations=_TRANSFORMS, evaluate=True)
    except Exception:  # the parser raises many types (SyntaxError, TokenError, TypeError...): all mean "unreadable"
        return None


def equivalent(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Whether two sympy expressions are equal (exactly, or numerically to 1e-9 for decimals)."""
    try:
        difference = sympy.simplify(a - b)
        if difference == 0:
            return True
        return bool(difference.is_number and abs(complex(difference)) < 1e-9 * max(1.0, abs(complex(b))))
    except Exception:  # a comparison sympy cannot make is a mismatch, never a crash
        return False


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one solution: ``ok``, the extracted answer and, when rejected, why."""

    ok: bool
    answer: str | None
    reason: str | None = None


def check_answer(solution: str, expected: str) -> Verdict:
    """Extract ``solution``'s boxed answer and compare it with ``expected`` (the seed's boxed answer)."""
    found = extract_boxed(solution)
    if found is None:
        return Verdict(False, None, NO_BOXED)
    got, want = normalise_answer(found), normalise_answer(expected)
    if got == want:
        return Verdict(True, found)
    got_expr, want_expr = to_sympy(got), to_sympy(want)
    if got_expr is None or want_expr is None:
        return Verdict(False, found, UNPARSABLE)
    return Verdict(True, found) if equivalent(got_expr, want_expr) else Verdict(False, found, WRONG)


def verify_generations(generations: Sequence[Generation], seeds: Sequence[Seed]
                       ) -> tuple[list[Generation], list[Removed]]:
    """Keep the generations whose boxed answer equals their seed's answer; the others, with the reason."""
    answers = {s.id: s.answer for s in seeds}
    kept, removed = [], []
    for g in generations:
        if g.seed_id not in answers:
            raise KeyError(f"verify: generation for unknown seed {g.seed_id!r} (from {g.generator})")
        verdict = check_answer(g.solution, answers[g.seed_id])
        if verdict.ok:
            kept.append(g)
        else:
            removed.append(Removed(g, verdict.reason, f"got {verdict.answer!r}, expected {answers[g.seed_id]!r}"))
    return kept, removed
