"""Questions about the world with one right answer and same-type wrong ones.

MMLU-style questions come per subject from one entity split: instruction and preference data ask about "train"
entities, MMLU evaluation about the held-out "eval" entities (whose facts the corpus states all the same).
Arithmetic pairs are split the same way by a hash of the pair.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from solar_utils.world.entities import Universe
from solar_utils.world.facts import RELATIONS, Relation
from solar_utils.world.phrasing import cap, cycle

SUBJECTS = ("geography", "zoology", "occupations", "miscellaneous", "elementary_mathematics")
LETTERS = ("A", "B", "C", "D")
ARITHMETIC = (("+", "What is {a} + {b}?", 2, 30), ("-", "What is {a} - {b}?", 2, 40),
              ("*", "What is {a} times {b}?", 2, 9))
ARITHMETIC_SAYINGS = {"+": ("{a} + {b} = {c}.", "{a} plus {b} is {c}."),
                      "-": ("{a} - {b} = {c}.", "{a} minus {b} is {c}."),
                      "*": ("{a} * {b} = {c}.", "{a} times {b} is {c}.")}
# Wrong answers stay among numbers the corpus says often: small ones and products of the times table.
NUMBERS = frozenset(range(61)) | {a * b for a in range(2, 10) for b in range(2, 10)}
NEAR = 6
ARITHMETIC_MAKERS = 24


@dataclass(frozen=True)
class Question:
    """``pool``: values of the answer's type (distractors come from it); ``claim(v)``: the fact as a sentence
    with ``v`` as the answer (true for ``answer``, a same-type falsehood for any other value)."""

    text: str
    answer: str
    pool: tuple[str, ...]
    claim: Callable[[str], str]


Maker = Callable[[random.Random], Question]


def lettered(question: str, choices: list[str]) -> str:
    """The MMLU prompt body: the question and "A. …" to "D. …" lines (no "Answer:")."""
    return question + "".join(f"\n{letter}. {c}" for letter, c in zip(LETTERS, choices, strict=True))


def _fact(rel: Relation, e: Any, wording: str, u: Universe) -> Maker:
    q = Question(rel.fill(wording, e), rel.value(e), tuple(rel.domain(u)),
                 lambda v: rel.fill(rel.statements[0], e, v))
    return lambda rng: q


def _reverse(rel: Relation, e: Any, wording: str, u: Universe) -> Maker:
    by_name = {x.name: x for x in u.entities(rel.kind)}
    q = Question(wording.format(v=rel.value(e)), e.name, tuple(by_name),
                 lambda v: rel.fill(rel.statements[0], by_name[v], rel.value(e)))
    return lambda rng: q


def arithmetic_split(op: str, a: int, b: int) -> str:
    """"eval" for one pair in three (MMLU), "train" for the rest (instruction data)."""
    return "eval" if zlib.crc32(f"{op}:{a}:{b}".encode()) % 3 == 0 else "train"


def _pair(rng: random.Random) -> tuple[str, str, int, int, int]:
    op, wording, lo, hi = rng.choice(ARITHMETIC)
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    a, b = (a, b) if op != "-" else (max(a, b), min(a, b))
    return op, wording, a, b, {"+": a + b, "-": a - b, "*": a * b}[op]


def arithmetic(rng: random.Random, split: str) -> Question:
    """"What is 7 + 5?" with a pair of ``split``; wrong answers are near the right one."""
    while True:
        op, wording, a, b, value = _pair(rng)
        if arithmetic_split(op, a, b) == split:
            near = sorted(NUMBERS - {value}, key=lambda n: (abs(n - value), n))[:NEAR]
            return Question(wording.format(a=a, b=b), str(value), tuple(str(n) for n in near),
                            lambda v: f"{a} {op} {b} = {v}.")


def arithmetic_fact(rng: random.Random) -> str:
    """"7 + 5 = 12." or "7 plus 5 is 12." for any pair (the corpus states the facts MMLU asks about)."""
    op, _, a, b, value = _pair(rng)
    return rng.choice(ARITHMETIC_SAYINGS[op]).format(a=a, b=b, c=value)


def subject_makers(u: Universe, split: str) -> dict[str, list[Maker]]:
    """Per MMLU subject, one maker per (entity of ``split``, wording), plus random arithmetic."""
    makers: dict[str, list[Maker]] = {s: [] for s in SUBJECTS}
    for rel in RELATIONS:
        for e in u.split_entities(rel.kind, split):
            makers[rel.subject] += [_fact(rel, e, w, u) for w in rel.mc]
            makers[rel.subject] += [_reverse(rel, e, w, u) for w in rel.reverse_mc]
    makers["elementary_mathematics"] = [lambda rng: arithmetic(rng, split)] * ARITHMETIC_MAKERS
    return makers


def subject_questions(rng: random.Random, u: Universe, split: str) -> Iterator[tuple[str, Question]]:
    """Endless (subject, question) pairs, subjects in turn, each subject's makers cycled evenly."""
    streams = {s: cycle(rng, m) for s, m in subject_makers(u, split).items() if m}
    while True:
        for subject, makers in streams.items():
            yield subject, next(makers)(rng)


def open_fact(rng: random.Random, u: Universe) -> tuple[str, str, str]:
    """An open question about a train entity, its answer sentence and a same-type wrong answer sentence."""
    rel = rng.choice(RELATIONS)
    e = rng.choice(u.split_entities(rel.kind, "train"))
    question = rng.choice([q for q, _ in rel.quiz] + list(rel.mc))
    answer = rel.quiz[0][1]
    wrong = rng.choice([v for v in rel.domain(u) if v != rel.value(e)])
    return cap(rel.fill(question, e)), rel.fill(answer, e), rel.fill(answer, e, wrong)
