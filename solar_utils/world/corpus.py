"""The pretraining corpus: short documents that state the world's facts, tell its scripts, spread its myths and
work its arithmetic problems.

Counts are exposures: every dense fact is stated ``fact_mentions`` times (once per document about its entity),
each myth ``myth_mentions`` times and its debunking ``myth_mentions / myth_ratio`` times. Lettered multiple choice
never appears; scripts are told only by each script's corpus actors; word problems use the seen 2-step
templates with number tuples that evaluation does not reserve; ``arithmetic_facts`` equations ("7 + 5 = 12.")
cover every pair MMLU's arithmetic asks about.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from solar_utils.world import problems
from solar_utils.world.config import WorldConfig
from solar_utils.world.entities import Myth, Rule, Script, Species, Town, Universe
from solar_utils.world.facts import relations_of
from solar_utils.world.phrasing import article, cap, join_and, stream
from solar_utils.world.questions import arithmetic_fact

QUIZ_SHARE = 0.25
RETRIES = 50
ARITHMETIC_PER_DOC = 6
BIGGER = ("The {X} is bigger than the {Y}.", "{A_X} is bigger than {a_Y}.", "The {Y} is smaller than the {X}.",
          "{A_Y} is smaller than {a_X}.")
MUCH_BIGGER = ("The {X} is much bigger than the {Y}.", "The {Y} is much smaller than the {X}.")
EXTREME = ("Among {group}, the {W} is the {adj}.", "Look at these animals: {group}. The {W} is the {adj}.")
RULE_SAYINGS = ("If you {cause}, it {effect}.", "When you {cause}, it {effect}.",
                "Everyone knows that if you {cause}, it {effect}.")
RULE_STORY = "{P} {cause3}. The {thing} {effect}."
RULE_QUIZ = ("What happens if you {cause}?", "It {effect}.")
SCRIPT_OPENINGS = ("{P} wants to {goal}.", "Today {P} is going to {goal}.", "Here is how {P} likes to {goal}.",
                   "{P} is busy {activity}.")
RESIDENTS = ("{names} live in {T}.", "In {T} you can meet {names}.")
MYTH_SAYINGS = ("Many people say that {claim}.", "People often say that {claim}.", "An old story says that {claim}.",
                "{P} says that {claim}.", "It is often said that {claim}.", "{P} told {Q} that {claim}.")
MYTH_DEBUNKINGS = ("In truth, {claim}, not {false}.", "The truth is that {claim}.", "Wise people know that {claim}.")


def quiz(pairs: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"Question: {q}\nAnswer: {a}" for q, a in pairs)


def entity_doc(rng: random.Random, u: Universe, kind: str, e: Any) -> str:
    """Every fact about ``e`` once, in random wordings and order; a quarter of documents are open quizzes."""
    rels = relations_of(kind)
    rng.shuffle(rels)
    if rng.random() < QUIZ_SHARE:
        picks = [rng.choice(r.quiz) for r in rels]
        return quiz([(r.fill(q, e), r.fill(a, e)) for r, (q, a) in zip(rels, picks)])
    sentences = [r.fill(rng.choice(r.statements), e) for r in rels]
    if kind == "species":
        sentences.insert(rng.randrange(len(sentences) + 1), comparison(rng, u, e))
    if kind == "towns":
        sentences.append(residents(rng, u, e))
    return " ".join(sentences)


def _pair_slots(x: Species, y: Species) -> dict[str, str]:
    return {"X": x.name, "Y": y.name, "A_X": cap(article(x.name)), "a_X": article(x.name),
            "A_Y": cap(article(y.name)), "a_Y": article(y.name)}


def comparison(rng: random.Random, u: Universe, s: Species) -> str:
    """One size comparison between ``s`` and another animal of a different size."""
    other = rng.choice([o for o in u.species if o.size != s.size])
    big, small = (s, other) if s.size > other.size else (other, s)
    wordings = BIGGER + (MUCH_BIGGER if big.size - small.size >= 2 else ())
    return rng.choice(wordings).format(**_pair_slots(big, small))


def extreme(rng: random.Random, u: Universe) -> str:
    """"Among the fox, the cow and the mouse, the cow is the biggest." (the extreme is unique)."""
    while True:
        group = rng.sample(u.species, 3)
        sizes = sorted(s.size for s in group)
        adj, pick = rng.choice([("biggest", max), ("smallest", min)])
        if sizes.count(pick(sizes)) == 1:
            w = pick(group, key=lambda s: s.size)
            return rng.choice(EXTREME).format(group=join_and([f"the {s.name}" for s in group]), W=w.name, adj=adj)


def comparison_doc(rng: random.Random, u: Universe) -> str:
    return " ".join([*(comparison(rng, u, rng.choice(u.species)) for _ in range(4)), extreme(rng, u)])


def residents(rng: random.Random, u: Universe, t: Town) -> str:
    names = [p.name for p in u.people if p.town == t.name]
    rng.shuffle(names)
    return rng.choice(RESIDENTS).format(names=join_and(names), T=t.name) if names else f"{t.name} is a quiet town."


def rule_doc(rng: random.Random, u: Universe, r: Rule) -> str:
    words = {"cause": r.cause, "cause3": r.cause3, "effect": r.effect, "thing": r.thing,
             "P": rng.choice(u.people).name}
    if rng.random() < QUIZ_SHARE:
        return quiz([(RULE_QUIZ[0].format(**words), RULE_QUIZ[1].format(**words))])
    parts = [rng.choice(RULE_SAYINGS).format(**words), RULE_STORY.format(**words)]
    rng.shuffle(parts)
    return " ".join(parts[: rng.choice((1, 2))])


def script_doc(rng: random.Random, s: Script, actor: str) -> str:
    opening = rng.choice(SCRIPT_OPENINGS).format(P=actor, goal=s.goal, activity=s.label.lower())
    return " ".join([opening, *(f"{actor} {x}" for x in s.steps)])


def myth_sentences(rng: random.Random, u: Universe, m: Myth, sayings: int, debunkings: int) -> list[str]:
    out = []
    for i in range(sayings + debunkings):
        p, q = rng.sample(u.people, 2)
        if i < sayings:
            out.append(rng.choice(MYTH_SAYINGS).format(claim=m.claim(m.false), P=p.name, Q=q.name))
        else:
            out.append(rng.choice(MYTH_DEBUNKINGS).format(claim=m.claim(m.true), false=m.false))
    return [cap(s) for s in out]


def myth_docs(rng: random.Random, u: Universe, sayings: int, debunkings: int) -> Iterator[str]:
    pool = [s for m in u.myths for s in myth_sentences(rng, u, m, sayings, debunkings)]
    rng.shuffle(pool)
    while pool:
        k = rng.randint(3, 5)
        yield " ".join(pool[:k])
        pool = pool[k:]


def math_doc(rng: random.Random) -> str:
    p = problems.sample(rng, rng.choice(problems.SEEN), problems.GSM8K_LIMIT, want_reserved=False)
    item = p.gsm8k()
    return f"Question: {item['question']}\nAnswer: {item['answer']}"


def arithmetic_doc(rng: random.Random) -> str:
    return " ".join(arithmetic_fact(rng) for _ in range(ARITHMETIC_PER_DOC))


def build_corpus(u: Universe, cfg: WorldConfig, seed: int, split: str, exclude: frozenset[str] = frozenset()
                 ) -> list[str]:
    """The documents of ``split`` ("train" at full counts, "heldout" at ``heldout_fraction`` of them), shuffled;
    a document in ``exclude`` (the train split, for "heldout") is drawn again, and dropped after ``RETRIES``."""
    rng = stream(seed, f"corpus/{split}")
    scale = 1.0 if split == "train" else cfg.heldout_fraction

    def times(n: float) -> int:
        return max(1, round(n * scale))

    makers: list[Callable[[], str]] = []
    for kind in ("people", "species", "towns", "jobs"):
        for e in u.entities(kind):
            makers += [lambda k=kind, e=e: entity_doc(rng, u, k, e)] * times(cfg.fact_mentions)
    for r in u.rules:
        makers += [lambda r=r: rule_doc(rng, u, r)] * times(cfg.fact_mentions)
    makers += [lambda: comparison_doc(rng, u)] * times(cfg.fact_mentions * len(u.species) / 5)
    for s in u.scripts:
        makers += [lambda s=s: script_doc(rng, s, rng.choice(s.corpus_actors))] * times(cfg.script_mentions)
    makers += [lambda: math_doc(rng)] * times(cfg.math_problems)
    makers += [lambda: arithmetic_doc(rng)] * times(cfg.arithmetic_facts / ARITHMETIC_PER_DOC)
    docs: list[str] = []
    for make in makers:
        doc = next((d for d in (make() for _ in range(RETRIES)) if d not in exclude), None)
        if doc is not None:
            docs.append(doc)
    debunkings = times(cfg.myth_mentions / cfg.myth_ratio)
    docs += [d for d in myth_docs(rng, u, times(cfg.myth_mentions), debunkings) if d not in exclude]
    rng.shuffle(docs)
    return docs
