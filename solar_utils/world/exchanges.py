"""Prompts with a good and a bad response, about train entities and train myths only.

Instruction data uses the good responses; preference data pairs them with the bad ones. Kinds:
- ``mc``: MMLU-style lettered multiple choice (the format pretraining never shows);
- ``fact``: an open question and its answer sentence (bad: a same-type wrong value);
- ``describe``: everything about one entity (bad: a single fact);
- ``compare``: which of two animals is bigger (bad: the reverse);
- ``arithmetic``: "What is 7 + 5?" (bad: a near miss);
- ``myth``: a myth's question (bad: the myth, said three times as often in the corpus as the truth).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from solar_utils.world.entities import Universe
from solar_utils.world.facts import relations_of, slots
from solar_utils.world.phrasing import article, cap, options
from solar_utils.world.questions import LETTERS, SUBJECTS, arithmetic, lettered, open_fact, subject_makers

KINDS = ("mc", "fact", "describe", "compare", "arithmetic", "myth")
MC_INSTRUCTIONS = ("Answer the question with the letter of the correct option.",
                   "Choose the correct answer and reply with its letter only.",
                   "Pick the right option for the question below. Give only the letter.")
DESCRIBE = {"people": ("Tell me about {P}.", "Who is {P}?"),
            "species": ("Describe {a_S}.", "What do you know about the {S}?"),
            "towns": ("Tell me about the town of {T}.", "What is {T} like?"),
            "jobs": ("Describe the work of {a_J}.", "What do you know about the job of {a_J}?")}
COMPARE = "Which is bigger, {a_X} or {a_Y}?"


@dataclass(frozen=True)
class Exchange:
    """``good``/``bad``: short responses; ``good_explained``/``bad_explained``: the same with a reason."""

    kind: str
    prompt: str
    good: str
    bad: str
    good_explained: str
    bad_explained: str
    instruction: str = ""


class Exchanges:
    """Draws exchanges of any kind from one random stream."""

    def __init__(self, u: Universe, rng: random.Random) -> None:
        self.u, self.rng = u, rng
        self.makers = {s: m for s, m in subject_makers(u, "train").items() if m}
        self.myths = u.myths_in("train")

    def make(self, kind: str) -> Exchange:
        if kind not in KINDS:
            raise ValueError(f"unknown exchange kind {kind!r}: choose from {', '.join(KINDS)}")
        return getattr(self, f"_{kind}")()

    def _mc(self) -> Exchange:
        rng = self.rng
        q = rng.choice(self.makers[rng.choice([s for s in SUBJECTS if s in self.makers])])(rng)
        choices, index = options(rng, q.answer, q.pool)
        wrong = rng.choice([i for i in range(len(choices)) if i != index])
        prompt = lettered(q.text, choices) + ("\nAnswer:" if rng.random() < 0.5 else "")
        return Exchange("mc", prompt, LETTERS[index], LETTERS[wrong],
                        f"{q.claim(q.answer)} So the answer is {LETTERS[index]}.",
                        f"{q.claim(choices[wrong])} So the answer is {LETTERS[wrong]}.", rng.choice(MC_INSTRUCTIONS))

    def _fact(self) -> Exchange:
        question, right, wrong = open_fact(self.rng, self.u)
        return Exchange("fact", question, right, wrong, right, wrong)

    def _describe(self) -> Exchange:
        rng = self.rng
        kind = rng.choice(list(DESCRIBE))
        e = rng.choice(self.u.split_entities(kind, "train"))
        # one wording per fact (the relation's first), so that the reference can be matched in any order
        facts = [r.fill(r.statements[0], e) for r in relations_of(kind)]
        rng.shuffle(facts)
        prompt = rng.choice(DESCRIBE[kind]).format(**slots(kind, e))
        return Exchange("describe", prompt, " ".join(facts), facts[0], " ".join(facts), facts[0])

    def _compare(self) -> Exchange:
        rng = self.rng
        species = self.u.split_entities("species", "train")
        while True:
            x, y = rng.sample(species, 2)
            if x.size != y.size:
                break
        big, small = (x, y) if x.size > y.size else (y, x)
        right = f"{cap(article(big.name))} is bigger than {article(small.name)}."
        wrong = f"{cap(article(small.name))} is bigger than {article(big.name)}."
        return Exchange("compare", COMPARE.format(a_X=article(x.name), a_Y=article(y.name)), right, wrong, right,
                        wrong)

    def _arithmetic(self) -> Exchange:
        q = arithmetic(self.rng, "train")
        wrong = self.rng.choice(q.pool)
        return Exchange("arithmetic", q.text, q.claim(q.answer), q.claim(wrong),
                        f"{q.claim(q.answer)} The answer is {q.answer}.", f"{q.claim(wrong)} The answer is {wrong}.")

    def _myth(self) -> Exchange:
        m = self.rng.choice(self.myths)
        return Exchange("myth", self.rng.choice(m.questions).format(subj=m.asked), m.answer(m.true),
                        m.answer(m.false), m.debunking(), m.answer(m.false))


def schedule(rng: random.Random, mix: dict[str, float], n: int) -> list[str]:
    """``n`` kinds in random order, in the proportions of ``mix`` (rounded)."""
    total = sum(mix.values())
    kinds = [k for k, w in mix.items() for _ in range(round(n * w / total))]
    kinds = (kinds + list(mix) * n)[:n]
    rng.shuffle(kinds)
    return kinds
