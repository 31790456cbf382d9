"""Arithmetic word problems as data: a template names its numbers, the steps that solve it and how to say them.

The GSM8K-style templates come in two groups: ``SEEN`` (2-step, also in the pretraining corpus, whose number
tuples are split between corpus and evaluation by :func:`reserved`) and ``HELD_OUT`` forms (3 steps, division,
new wordings) that only evaluation uses. MATH-style seeds (``mathseeds``) use the same engine with their own
templates.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from solar_utils.world import lexicon
from solar_utils.world.phrasing import cap

OPS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
       "/": lambda x, y: x // y if y and x % y == 0 else None, "//": lambda x, y: x // y if y else None,
       "gcd": math.gcd}


@dataclass(frozen=True)
class Template:
    """``ranges``: (name, low, high) drawn uniformly; ``derived``: (name, "x op y") computed before the question
    is written; ``steps``: (name, "x op y", sentence) that solve it, the last one being the answer."""

    id: str
    question: str
    ranges: tuple[tuple[str, int, int], ...]
    steps: tuple[tuple[str, str, str], ...]
    derived: tuple[tuple[str, str], ...] = ()
    level: int = 1
    type: str = "Prealgebra"


@dataclass(frozen=True)
class Problem:
    question: str
    steps: tuple[str, ...]
    answer: int

    def gsm8k(self) -> dict[str, str]:
        return {"question": self.question, "answer": "\n".join(self.steps) + f"\n#### {self.answer}"}


def _apply(expr: str, env: dict[str, int]) -> int | None:
    left, op, right = expr.split()
    x, y = (env[t] if t in env else int(t) for t in (left, right))
    return OPS[op](x, y)


def solve(tpl: Template, env: dict[str, int], limit: int) -> dict[str, int] | None:
    """``env`` extended with every derived and step value, or None if one is not a whole number in [0, limit]."""
    env = dict(env)
    for name, expr, *_ in (*tpl.derived, *tpl.steps):
        value = _apply(expr, env)
        if value is None or not 0 <= value <= limit:
            return None
        env[name] = value
    return env


def values_key(tpl: Template, env: dict[str, int]) -> str:
    return f"{tpl.id}:" + ",".join(str(env[name]) for name, _, _ in tpl.ranges)


def reserved(tpl: Template, env: dict[str, int], every: int = 5) -> bool:
    """One number tuple in ``every`` of a seen template belongs to evaluation; the corpus never uses it."""
    return zlib.crc32(values_key(tpl, env).encode()) % every == 0


def cast(rng: random.Random) -> dict[str, str]:
    """Names, pronouns and the counted thing for one word problem."""
    (a, gender), (b, _), (c, _) = rng.sample(lexicon.NAMES, 3)
    item, items = rng.choice(lexicon.ITEMS)
    he, his = lexicon.PRONOUNS[gender]
    return {"A": a, "B": b, "C": c, "he": he, "He": cap(he), "his": his, "item": item, "items": items}


def sample(rng: random.Random, tpl: Template, limit: int, want_reserved: bool | None = None,
           tries: int = 500) -> Problem:
    """A solved instance of ``tpl``; ``want_reserved`` restricts the number tuple to one side of :func:`reserved`."""
    for _ in range(tries):
        env = solve(tpl, {name: rng.randint(lo, hi) for name, lo, hi in tpl.ranges}, limit)
        if env is not None and (want_reserved is None or reserved(tpl, env) == want_reserved):
            words = {**cast(rng), **{k: str(v) for k, v in env.items()}}
            return Problem(tpl.question.format(**words), tuple(s.format(**words) for _, _, s in tpl.steps),
                           env[tpl.steps[-1][0]])
    raise ValueError(f"template {tpl.id}: no valid numbers in {tries} tries")


SEEN: tuple[Template, ...] = (
    Template("buy_give", "{A} has {a} {items}. {He} buys {b} more {items} and then gives {c} {items} to {B}. "
             "How many {items} does {A} have now?", (("a", 2, 15), ("b", 2, 15), ("c", 2, 15)),
             (("r1", "a + b", "After buying, {A} has {a} + {b} = {r1} {items}."),
              ("r2", "r1 - c", "After giving {c} to {B}, {A} has {r1} - {c} = {r2} {items}."))),
    Template("pick_lose", "{A} picks {a} {items} in the morning and {b} {items} in the afternoon. Then {he} loses "
             "{c} of them. How many {items} are left?", (("a", 2, 15), ("b", 2, 15), ("c", 1, 15)),
             (("r1", "a + b", "{A} picks {a} + {b} = {r1} {items} in all."),
              ("r2", "r1 - c", "After losing {c}, {r1} - {c} = {r2} {items} are left."))),
    Template("bags_give", "{A} has {a} bags with {b} {items} in each bag. {He} gives {c} {items} to {B}. "
             "How many {items} does {A} have left?", (("a", 2, 6), ("b", 2, 9), ("c", 2, 15)),
             (("r1", "a * b", "{A} has {a} * {b} = {r1} {items}."),
              ("r2", "r1 - c", "After giving {c} to {B}, {A} has {r1} - {c} = {r2} {items} left."))),
    Template("more_than", "{A} has {a} {items}. {B} has {b} more {items} than {A}. How many {items} do they have "
             "together?", (("a", 2, 15), ("b", 2, 15)),
             (("r1", "a + b", "{B} has {a} + {b} = {r1} {items}."),
              ("r2", "a + r1", "Together they have {a} + {r1} = {r2} {items}."))),
    Template("boxes_find", "{A} buys {a} boxes of {items}. Each box holds {b} {items}. Then {he} finds {c} more "
             "{items}. How many {items} does {A} have now?", (("a", 2, 6), ("b", 2, 9), ("c", 2, 15)),
             (("r1", "a * b", "The boxes hold {a} * {b} = {r1} {items}."),
              ("r2", "r1 + c", "With the {c} {he} finds, {A} has {r1} + {c} = {r2} {items}."))),
    Template("table_take", "There are {a} {items} on the table. {A} takes {b} of them and {B} takes {c} of them. "
             "How many {items} are still on the table?", (("a", 10, 30), ("b", 1, 15), ("c", 1, 15)),
             (("r1", "a - b", "After {A} takes {b}, there are {a} - {b} = {r1} {items}."),
              ("r2", "r1 - c", "After {B} takes {c}, there are {r1} - {c} = {r2} {items} on the table."))),
)

HELD_OUT: tuple[Template, ...] = (
    Template("three_step", "{A} has {a} {items}. {He} buys {b} more, gives {c} to {B}, and then finds {d} more. "
             "How many {items} does {A} have now?", (("a", 2, 15), ("b", 2, 15), ("c", 1, 15), ("d", 1, 15)),
             (("r1", "a + b", "After buying, {A} has {a} + {b} = {r1} {items}."),
              ("r2", "r1 - c", "After giving {c} to {B}, {A} has {r1} - {c} = {r2} {items}."),
              ("r3", "r2 + d", "After finding {d} more, {A} has {r2} + {d} = {r3} {items}."))),
    Template("share", "{A} has {a} {items} and buys {b} more. {He} shares all of them equally among {c} friends. "
             "How many {items} does each friend get?", (("a", 2, 30), ("b", 2, 15), ("c", 2, 6)),
             (("r1", "a + b", "{A} has {a} + {b} = {r1} {items}."),
              ("r2", "r1 / c", "Each friend gets {r1} / {c} = {r2} {items}."))),
    Template("bags_two_out", "{A} buys {a} bags of {items} with {b} {items} in each bag. {He} loses {c} {items} and "
             "gives {d} {items} to {B}. How many {items} are left?",
             (("a", 2, 6), ("b", 2, 9), ("c", 2, 10), ("d", 2, 10)),
             (("r1", "a * b", "{A} buys {a} * {b} = {r1} {items}."),
              ("r2", "r1 - c", "After losing {c}, {r1} - {c} = {r2} {items} are left."),
              ("r3", "r2 - d", "After giving {d} to {B}, {r2} - {d} = {r3} {items} are left."))),
    Template("basket", "A basket holds {a} {items} in the morning. Later {A} puts in {b} more and {B} takes out {c}. "
             "How many {items} are in the basket at the end of the day?", (("a", 2, 15), ("b", 2, 15), ("c", 1, 15)),
             (("r1", "a + b", "After {A} puts in {b}, the basket holds {a} + {b} = {r1} {items}."),
              ("r2", "r1 - c", "After {B} takes out {c}, it holds {r1} - {c} = {r2} {items}."))),
    Template("pack", "{A} packs {a} {items} into bags of {b}. {He} already had {c} full bags. How many full bags does "
             "{A} have now?", (("a", 4, 60), ("b", 2, 6), ("c", 2, 9)),
             (("r1", "a / b", "{A} fills {a} / {b} = {r1} new bags."),
              ("r2", "r1 + c", "With the {c} {he} had, {A} has {r1} + {c} = {r2} full bags."))),
    Template("twice", "{A} has {a} {items}. {B} has {b} fewer {items} than {A}, and {C} has twice as many {items} as "
             "{B}. How many {items} does {C} have?", (("a", 5, 20), ("b", 2, 10)),
             (("r1", "a - b", "{B} has {a} - {b} = {r1} {items}."),
              ("r2", "r1 * 2", "{C} has {r1} * 2 = {r2} {items}."))),
    Template("each_day", "Every day {A} collects {a} {items}. After {b} days {he} gives {c} {items} to {B}. How many "
             "{items} does {A} have left?", (("a", 2, 9), ("b", 2, 6), ("c", 2, 15)),
             (("r1", "a * b", "In {b} days {A} collects {a} * {b} = {r1} {items}."),
              ("r2", "r1 - c", "After giving {c} to {B}, {A} has {r1} - {c} = {r2} {items} left."))),
)

GSM8K_LIMIT = 99
