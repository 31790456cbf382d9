"""The universe drawn from a seed: people, animals, towns, jobs, causal rules, scripts and myths, with splits."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from solar_utils.world import lexicon
from solar_utils.world.config import WorldConfig
from solar_utils.world.phrasing import article, cap, stream

SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Person:
    name: str
    gender: str
    town: str
    job: str
    food: str
    pet: str

    @property
    def he(self) -> str:
        return lexicon.PRONOUNS[self.gender][0]

    @property
    def his(self) -> str:
        return lexicon.PRONOUNS[self.gender][1]


@dataclass(frozen=True)
class Species:
    name: str
    size: int
    sound: str
    food: str
    home: str
    legs: int
    pet: bool


@dataclass(frozen=True)
class Town:
    name: str
    region: str
    landmark: str


@dataclass(frozen=True)
class Job:
    name: str
    action: str
    workplace: str
    tool: str


@dataclass(frozen=True)
class Rule:
    thing: str
    cause: str
    cause3: str
    effect: str


@dataclass(frozen=True)
class Script:
    label: str
    goal: str
    steps: tuple[str, ...]
    corpus_actors: tuple[str, ...]
    eval_actors: tuple[str, ...]
    fewshot_actors: tuple[str, ...]


@dataclass(frozen=True)
class Myth:
    """A false belief said ``myth_ratio`` times as often as its debunking; ``split`` "train" feeds preference data."""

    id: str
    topic: str
    entity: str
    subject: str
    asked: str
    predicate: str
    questions: tuple[str, ...]
    values: tuple[str, ...]
    true: str
    false: str
    split: str

    def claim(self, value: str, subject: str | None = None) -> str:
        """"the fox lives for 12 years" (no final period)."""
        return f"{subject or self.subject} {self.predicate.format(v=value)}"

    def answer(self, value: str) -> str:
        """"A fox lives for 12 years." (how an answer to one of ``questions`` says it)."""
        return cap(self.claim(value, self.asked)) + "."

    def debunking(self) -> str:
        """The true answer with the myth denied: "A fox lives for 12 years, not 40"."""
        return f"{cap(self.claim(self.true, self.asked))}, not {self.false}."


@dataclass(frozen=True)
class Universe:
    people: tuple[Person, ...]
    species: tuple[Species, ...]
    towns: tuple[Town, ...]
    jobs: tuple[Job, ...]
    rules: tuple[Rule, ...]
    scripts: tuple[Script, ...]
    myths: tuple[Myth, ...]
    mmlu_heldout: dict[str, tuple[str, ...]]

    def entities(self, kind: str) -> tuple[Any, ...]:
        return getattr(self, kind)

    def split_entities(self, kind: str, split: str) -> list[Any]:
        """MMLU split of ``kind``: "eval" entities are held out of instruction data, "train" ones are not."""
        held = set(self.mmlu_heldout[kind])
        return [e for e in self.entities(kind) if (e.name in held) == (split == "eval")]

    def myths_in(self, split: str) -> list[Myth]:
        return [m for m in self.myths if m.split == split]

    def to_json(self) -> dict[str, Any]:
        return {**{k: [asdict(e) for e in getattr(self, k)] for k in
                   ("people", "species", "towns", "jobs", "rules", "scripts", "myths")},
                "mmlu_heldout": {k: list(v) for k, v in self.mmlu_heldout.items()}}


def _spread(rng: random.Random, values: list[str], n: int) -> list[str]:
    """``n`` values using every value about equally often, in random order."""
    out = [values[i % len(values)] for i in range(n)]
    rng.shuffle(out)
    return out


def _myths(rng: random.Random, towns: list[Town], jobs: list[Job], species: list[Species], n: int) -> list[Myth]:
    subjects = {"species": [(s.name, f"the {s.name}", article(s.name)) for s in species],
                "towns": [(t.name, f"the {t.landmark} in {t.name}", f"the {t.landmark} in {t.name}") for t in towns],
                "jobs": [(j.name, article(j.name), article(j.name)) for j in jobs]}
    candidates = [(topic, *subj) for topic in lexicon.MYTH_TOPICS for subj in subjects[topic[1]]]
    picked = sorted(rng.sample(range(len(candidates)), min(n, len(candidates))))
    by_topic: dict[str, list[int]] = {}
    for i in picked:
        by_topic.setdefault(candidates[i][0][0], []).append(i)
    for indices in by_topic.values():
        rng.shuffle(indices)
    myths = []
    for j, i in enumerate(i for indices in by_topic.values() for i in indices):
        (topic, _, predicate, questions, values), entity, subject, asked = candidates[i]
        true, false = rng.sample(values, 2)
        myths.append(Myth(f"myth_{j:03d}", topic, entity, subject, asked, predicate, questions, values, true, false,
                          SPLITS[j % 2]))
    return myths


def sample_universe(cfg: WorldConfig, seed: int) -> Universe:
    """Draw every entity and split from ``seed``; attributes are spread evenly over people."""
    rng = stream(seed, "entities")
    n_people = cfg.n_people
    names = rng.sample(lexicon.NAMES, n_people)
    towns = [Town(name, region, landmark) for name, region, landmark in
             zip(rng.sample(lexicon.TOWNS, cfg.n_towns), _spread(rng, list(lexicon.REGIONS), cfg.n_towns),
                 rng.sample(lexicon.LANDMARKS, cfg.n_towns))]
    jobs = [Job(*row) for row in rng.sample(lexicon.JOBS, cfg.n_jobs)]
    species = [Species(*row) for row in rng.sample(lexicon.SPECIES, cfg.n_species)]
    pets = [s.name for s in species if s.pet] or [s.name for s in species]
    columns = [_spread(rng, [x.name for x in towns], n_people), _spread(rng, [j.name for j in jobs], n_people),
               _spread(rng, list(lexicon.FOODS), n_people), _spread(rng, pets, n_people)]
    people = [Person(name, gender, *attrs) for (name, gender), *attrs in zip(names, *columns)]
    scripts = []
    for label, goal, steps in lexicon.SCRIPTS:
        actors = [name for name, _ in rng.sample(lexicon.NAMES, len(lexicon.NAMES))]
        n_eval = cfg.script_eval_actors
        cut = n_eval + cfg.script_fewshot_actors
        scripts.append(Script(label, goal, steps, tuple(actors[cut:]), tuple(actors[:n_eval]),
                              tuple(actors[n_eval:cut])))
    kinds = {"people": people, "species": species, "towns": towns, "jobs": jobs}
    heldout = {k: tuple(e.name for e in rng.sample(v, max(1, round(cfg.mmlu_heldout_share * len(v)))))
               for k, v in kinds.items()}
    return Universe(tuple(people), tuple(species), tuple(towns), tuple(jobs),
                    tuple(Rule(*r) for r in lexicon.RULES), tuple(scripts),
                    tuple(_myths(rng, towns, jobs, species, cfg.n_myths)), heldout)
