"""The dense facts and every wording they are said or asked in.

Each :class:`Relation` ties an entity kind to one attribute, with wordings for the corpus (statements and open
"Question:/Answer:" quizzes) and for lettered multiple choice (instruction data on train entities, MMLU on held-out
entities). Lettered multiple choice never appears in the corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solar_utils.world import lexicon
from solar_utils.world.entities import Universe
from solar_utils.world.phrasing import article, cap


def slots(kind: str, e: Any) -> dict[str, str]:
    """Template slots naming entity ``e`` of ``kind``."""
    if kind == "people":
        return {"P": e.name, "he": e.he, "He": cap(e.he), "his": e.his}
    if kind == "species":
        return {"S": e.name, "a_S": article(e.name), "A_S": cap(article(e.name))}
    if kind == "towns":
        return {"T": e.name}
    return {"J": e.name, "a_J": article(e.name), "A_J": cap(article(e.name))}


@dataclass(frozen=True)
class Relation:
    key: str
    kind: str
    subject: str
    value: Callable[[Any], str]
    statements: tuple[str, ...]
    quiz: tuple[tuple[str, str], ...]
    mc: tuple[str, ...]
    reverse_mc: tuple[str, ...] = ()

    def fill(self, template: str, e: Any, value: str | None = None) -> str:
        """``template`` about ``e`` with its value (or ``value``, to state a wrong one)."""
        v = self.value(e) if value is None else value
        return template.format(v=v, a_v=article(v), **slots(self.kind, e))

    def domain(self, u: Universe) -> list[str]:
        """Every value this relation takes in ``u``: all of them occur in the corpus."""
        return sorted({self.value(e) for e in u.entities(self.kind)})


RELATIONS: tuple[Relation, ...] = (
    Relation("person.town", "people", "geography", lambda p: p.town,
             ("{P} lives in {v}.", "{P} has a house in {v}.", "The home of {P} is in {v}.",
              "{P} makes {his} home in {v}.", "{P} and {his} family live in {v}."),
             (("Where does {P} live?", "{P} lives in {v}."),
              ("Which town is {P} from?", "{P} has a house in {v}.")),
             ("In which town does {P} live?", "Where is the home of {P}?")),
    Relation("person.job", "people", "occupations", lambda p: p.job,
             ("{P} works as {a_v}.", "{P} is {a_v}.", "By trade, {P} is {a_v}.", "{P} earns a living as {a_v}.",
              "{P} has a job as {a_v}."),
             (("What does {P} do for work?", "{P} works as {a_v}."),),
             ("What is the job of {P}?", "What does {P} work as?")),
    Relation("person.food", "people", "miscellaneous", lambda p: p.food,
             ("{P} likes {v} best.", "The favourite food of {P} is {v}.", "{P} loves to eat {v}.",
              "Of all foods, {P} likes {v} the most."),
             (("What food does {P} like best?", "{P} likes {v} best."),),
             ("Which food does {P} like best?", "What is the favourite food of {P}?")),
    Relation("person.pet", "people", "miscellaneous", lambda p: p.pet,
             ("{P} has {a_v} as a pet.", "{P} keeps {a_v} at home.", "The pet of {P} is {a_v}.",
              "{P} takes care of a pet {v}."),
             (("What pet does {P} keep?", "{P} keeps {a_v} as a pet."),),
             ("Which animal does {P} keep as a pet?", "What kind of pet does {P} have?")),
    Relation("species.size", "species", "zoology", lambda s: lexicon.SIZE_WORDS[s.size],
             ("The {S} is {v}.", "{A_S} is {v}.", "Every {S} is {v}.", "The {S} is an animal that is {v}."),
             (("How big is the {S}?", "The {S} is {v}."),),
             ("How big is {a_S}?",)),
    Relation("species.sound", "species", "zoology", lambda s: s.sound,
             ("The {S} {v}.", "{A_S} {v}.", "You can hear the {S} when it {v}."),
             (("What sound does the {S} make?", "The {S} {v}."),),
             ("Which sound does {a_S} make?",)),
    Relation("species.food", "species", "zoology", lambda s: s.food,
             ("The {S} eats {v}.", "{A_S} feeds on {v}.", "{A_S} likes to eat {v}.", "The food of the {S} is {v}.",
              "{A_S} usually eats {v}."),
             (("What does the {S} eat?", "The {S} eats {v}."),),
             ("What is the food of {a_S}?", "Which food does {a_S} like to eat?")),
    Relation("species.home", "species", "zoology", lambda s: s.home,
             ("The {S} lives in {v}.", "{A_S} makes its home in {v}.", "You can find the {S} in {v}."),
             (("Where does the {S} live?", "The {S} lives in {v}."),),
             ("Where does {a_S} live?", "Where is the home of {a_S}?")),
    Relation("species.legs", "species", "zoology", lambda s: lexicon.NUMBER_WORDS[s.legs],
             ("The {S} has {v} legs.", "{A_S} has {v} legs.", "{A_S} walks on {v} legs."),
             (("How many legs does the {S} have?", "The {S} has {v} legs."),),
             ()),
    Relation("town.region", "towns", "geography", lambda t: t.region,
             ("{T} is a town in the {v}.", "{T} lies in the {v}.", "In the {v} there is a town called {T}.",
              "The town of {T} is in the {v} of the land.", "{T} is in the {v} part of the land."),
             (("Where is {T}?", "{T} is in the {v}."),),
             ("In which part of the land is {T}?",)),
    Relation("town.landmark", "towns", "geography", lambda t: t.landmark,
             ("{T} is known for its {v}.", "People come to {T} to see the {v}.", "The {v} in {T} is famous.",
              "There is {a_v} in {T}."),
             (("What is {T} known for?", "{T} is known for its {v}."),),
             ("What is {T} famous for?",), ("Which town is famous for its {v}?",)),
    Relation("job.action", "jobs", "occupations", lambda j: j.action,
             ("{A_J} {v}.", "Every {J} {v}.", "All day long, {a_J} {v}."),
             (("What does {a_J} do?", "{A_J} {v}."),),
             ("What does {a_J} do at work?",)),
    Relation("job.workplace", "jobs", "occupations", lambda j: j.workplace,
             ("{A_J} works in {v}.", "The workplace of {a_J} is {v}.", "You can find {a_J} at work in {v}.",
              "The place where {a_J} works is {v}."),
             (("Where does {a_J} work?", "{A_J} works in {v}."),),
             ("In which place does {a_J} work?",)),
    Relation("job.tool", "jobs", "occupations", lambda j: j.tool,
             ("{A_J} uses {v}.", "The main tool of {a_J} is {v}.", "{A_J} works with {v}."),
             (("What tool does {a_J} use?", "{A_J} uses {v}."),),
             ("Which tool does {a_J} use?",), ("Which job uses {v}?",)),
)


def relations_of(kind: str) -> list[Relation]:
    return [r for r in RELATIONS if r.kind == kind]
