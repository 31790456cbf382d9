"""Evaluation items for the six H6 tasks, in the real datasets' record schemas, and their few-shot pools.

What each task measures in this world:
- arc: the dense layer (animals' food/home/legs/sounds, sizes, causal rules) in question wordings the corpus
  never uses.
- hellaswag: the next step of an everyday script, told by an actor who never does that script in the corpus;
  the wrong endings are other steps of the same script.
- mmlu: lettered multiple choice (never in the corpus) about held-out entities, five subjects.
- truthfulqa: held-out myths (said three times as often as their debunking); false answers share the true
  answer's type. The other half of the myths feed preference data and the few-shot pool.
- winogrande: size and person knowledge in sentence frames absent from the corpus.
- gsm8k: seen 2-step templates with reserved number tuples, plus held-out forms (3 steps, division, new
  wordings); the few-shot pool has seen templates only.
Evaluation items never share an n-gram with any other text of the world (see ``overlap``); few-shot items never
repeat an evaluation item's question with its answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from solar_utils.h6 import TASKS
from solar_utils.world import lexicon, problems
from solar_utils.world.config import WorldConfig
from solar_utils.world.entities import Species, Universe
from solar_utils.ngrams import NgramIndex, normalise
from solar_utils.world.overlap import overlap_text
from solar_utils.world.phrasing import article, cycle, options, stream
from solar_utils.world.questions import LETTERS, subject_questions

MAX_TRIES_PER_ITEM = 60

ArcMaker = Callable[[random.Random], tuple[str, list[str], int]]

ARC_ABOUT = (("Which food does {a_S} eat?", "food"), ("What does {a_S} usually eat?", "food"),
             ("Where can you find {a_S}?", "home"), ("Where does {a_S} make its home?", "home"),
             ("How many legs does {a_S} have?", "legs"))
ARC_WHICH = (("Which animal {v}?", "sound"), ("Which animal eats {v}?", "food"), ("Which animal lives in {v}?", "home"))
ARC_CAUSE = "What happens when you {cause}?"
ARC_STORY = "{P} {cause3}. What happens to the {thing}?"
ARC_EXTREME = "Which of these animals is the {adj}?"
ARC_THAN = "Which animal is {adj} than {a_S}?"
SIZE_FRAMES = (  # {X} is the bigger animal, {Y} the smaller; the role that fills the blank
    ("The {X} could not hide behind the {Y} because the _ was too big.", "X"),
    ("The {X} could not hide behind the {Y} because the _ was too small.", "Y"),
    ("The {X} stood next to the {Y}, and the _ looked very big.", "X"),
    ("The {X} stood next to the {Y}, and the _ looked very small.", "Y"),
    ("The {Y} rode on the back of the {X} because the _ is so big.", "X"),
    ("The {Y} rode on the back of the {X} because the _ is so small.", "Y"),
    ("The {X} could not fit into the home of the {Y} because the _ is much bigger.", "X"),
    ("The {X} could not fit into the home of the {Y} because the _ is much smaller.", "Y"),
)
PERSON_FRAMES = ("{A} and {B} met at the market, and only _ {fact}.", "Of {A} and {B}, only _ {fact}.",
                 "{A} and {B} sat down for lunch, and it turned out that _ {fact}.", "{A} told {B} a secret: _ {fact}.")
PERSON_FACTS = (("town", "lives in {v}"), ("job", "works as {a_v}"), ("food", "likes {v} best"),
                ("pet", "keeps {a_v} at home"))


def _attribute(s: Species, name: str) -> str:
    return f"{lexicon.NUMBER_WORDS[s.legs]} legs" if name == "legs" else getattr(s, name)


def _arc_fixed(question: str, answer: str, pool: list[str]) -> ArcMaker:
    def make(rng: random.Random) -> tuple[str, list[str], int]:
        return (question, *options(rng, answer, pool))
    return make


def _arc_extreme(u: Universe, adj: str) -> ArcMaker:
    pick = max if adj == "biggest" else min

    def make(rng: random.Random) -> tuple[str, list[str], int]:
        while True:
            group = rng.sample(u.species, 4)
            sizes = [s.size for s in group]
            if sizes.count(pick(sizes)) == 1:
                names = [s.name for s in group]
                return ARC_EXTREME.format(adj=adj), names, sizes.index(pick(sizes))
    return make


def _arc_than(u: Universe, s: Species, adj: str) -> ArcMaker | None:
    """"Which animal is bigger than a fox?": one right animal, three that are not; None if ``u`` lacks them."""
    sign = 1 if adj == "bigger" else -1
    right = [o.name for o in u.species if sign * (o.size - s.size) > 0]
    wrong = [o.name for o in u.species if sign * (o.size - s.size) <= 0 and o is not s]
    if not right or len(wrong) < 3:
        return None

    def make(rng: random.Random) -> tuple[str, list[str], int]:
        pick = rng.choice(right)
        choices = [pick, *rng.sample(wrong, 3)]
        rng.shuffle(choices)
        return ARC_THAN.format(adj=adj, a_S=article(s.name)), choices, choices.index(pick)
    return make


def _arc_story(u: Universe, answer: str, wording: str, words: dict[str, str], pool: list[str]) -> ArcMaker:
    def make(rng: random.Random) -> tuple[str, list[str], int]:
        return (wording.format(P=rng.choice(u.people).name, **words), *options(rng, answer, pool))
    return make


def arc_makers(u: Universe) -> list[ArcMaker]:
    """One maker per fixed question; random "which is the biggest/smallest" questions make about one in seven."""
    makers: list[ArcMaker] = []
    for s in u.species:
        for wording, attr in ARC_ABOUT:
            pool = sorted({_attribute(o, attr) for o in u.species})
            makers.append(_arc_fixed(wording.format(a_S=article(s.name)), _attribute(s, attr), pool))
        for wording, attr in ARC_WHICH:
            pool = [o.name for o in u.species if getattr(o, attr) != getattr(s, attr)] + [s.name]
            makers.append(_arc_fixed(wording.format(v=getattr(s, attr)), s.name, pool))
        makers += [m for m in (_arc_than(u, s, adj) for adj in ("bigger", "smaller")) if m]
    effects = [f"it {r.effect}" for r in u.rules]
    for r in u.rules:
        makers.append(_arc_fixed(ARC_CAUSE.format(cause=r.cause), f"it {r.effect}", effects))
        makers.append(_arc_story(u, f"it {r.effect}", ARC_STORY, {"cause3": r.cause3, "thing": r.thing}, effects))
    makers += [_arc_extreme(u, adj) for adj in ("biggest", "smallest")] * (len(makers) // 12)
    return makers


def arc_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    for n, make in enumerate(cycle(rng, arc_makers(u))):
        question, choices, index = make(rng)
        yield {"id": f"TinyWorld_{split}_{n:05d}", "question": question,
               "choices": {"text": choices, "label": list(LETTERS[: len(choices)])}, "answerKey": LETTERS[index]}


def hellaswag_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    """Context: the first k steps by a held-out actor; endings: step k+1 and three other steps of the script."""
    combos = [(s, k, actor) for s in u.scripts for k in range(1, len(s.steps))
              for actor in (s.eval_actors if split == "eval" else s.fewshot_actors)]
    for n, (s, k, actor) in enumerate(cycle(rng, combos)):
        ctx_a = " ".join(f"{actor} {step}" for step in s.steps[:k])
        others = [x for i, x in enumerate(s.steps) if i != k]
        endings = [s.steps[k], *rng.sample(others, 3)]
        rng.shuffle(endings)
        yield {"ind": n, "activity_label": s.label, "ctx_a": ctx_a, "ctx_b": actor, "ctx": f"{ctx_a} {actor}",
               "endings": endings, "source_id": f"tinyworld~{s.goal.replace(' ', '_')}", "split": "val",
               "split_type": "indomain", "label": str(endings.index(s.steps[k]))}


def mmlu_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    """Evaluation asks about held-out entities; the few-shot (dev) pool about train entities."""
    for subject, q in subject_questions(rng, u, "eval" if split == "eval" else "train"):
        choices, index = options(rng, q.answer, q.pool)
        yield {"question": q.text, "subject": subject, "choices": choices, "answer": index}


def truthfulqa_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    """mc1: [true, myth, two other same-type values]; mc2 adds the debunking ("…, not X.") as a second truth."""
    said = {}
    for m in u.myths:
        said.setdefault(m.topic, set()).update((m.true, m.false))
    myths = u.myths_in("eval" if split == "eval" else "train")
    for m, wording in cycle(rng, [(m, w) for m in myths for w in m.questions]):
        others = sorted(said[m.topic] - {m.true, m.false})
        others = rng.sample(others if len(others) >= 2 else sorted(set(m.values) - {m.true, m.false}), 2)
        true, falses = m.answer(m.true), [m.answer(v) for v in (m.false, *others)]
        yield {"question": wording.format(subj=m.asked),
               "mc1_targets": {"choices": [true, *falses], "labels": [1, 0, 0, 0]},
               "mc2_targets": {"choices": [true, m.debunking(), *falses], "labels": [1, 1, 0, 0, 0]}}


def _winogrande(sentence: str, first: str, second: str, answer: str) -> dict:
    return {"sentence": sentence, "option1": first, "option2": second, "answer": "1" if answer == first else "2"}


def winogrande_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    """Half size frames (which of two animals is bigger), half person frames (who has a property)."""
    frames, facts = cycle(rng, SIZE_FRAMES), cycle(rng, PERSON_FACTS)
    while True:
        if rng.random() < 0.5:
            frame, role = next(frames)
            x, y = sorted(rng.sample(u.species, 2), key=lambda s: -s.size)
            if x.size == y.size:
                continue
            first, second = rng.sample([x.name, y.name], 2)
            yield _winogrande(frame.format(X=x.name, Y=y.name), first, second, x.name if role == "X" else y.name)
        else:
            attr, predicate = next(facts)
            p, q = rng.sample(u.people, 2)
            if getattr(p, attr) == getattr(q, attr):
                continue
            a, b = rng.sample([p.name, q.name], 2)
            v = getattr(p, attr)
            fact = predicate.format(v=v, a_v=article(v))
            yield _winogrande(rng.choice(PERSON_FRAMES).format(A=a, B=b, fact=fact), a, b, p.name)


def gsm8k_items(rng: random.Random, u: Universe, split: str, cfg: WorldConfig) -> Iterator[dict]:
    """Seen templates draw reserved number tuples only; held-out forms are never in the corpus."""
    seen, held = cycle(rng, problems.SEEN), cycle(rng, problems.HELD_OUT)
    while True:
        if split == "eval" and rng.random() < cfg.gsm8k_heldout_form_share:
            yield problems.sample(rng, next(held), problems.GSM8K_LIMIT).gsm8k()
        else:
            yield problems.sample(rng, next(seen), problems.GSM8K_LIMIT, want_reserved=True).gsm8k()


GENERATORS = {"arc": arc_items, "hellaswag": hellaswag_items, "mmlu": mmlu_items, "truthfulqa": truthfulqa_items,
              "winogrande": winogrande_items, "gsm8k": gsm8k_items}


def answer_key(task: str, item: dict) -> str:
    """An item's question with its right answer: a few-shot example never repeats an evaluated one."""
    if task == "arc":
        return item["question"] + "|" + item["choices"]["text"][item["choices"]["label"].index(item["answerKey"])]
    if task == "hellaswag":
        return item["ctx"] + "|" + item["endings"][int(item["label"])]
    if task == "mmlu":
        return item["question"] + "|" + item["choices"][item["answer"]]
    if task == "winogrande":
        return item["sentence"].replace("_", item["option" + item["answer"]])
    return item["question"]


def collect(task: str, candidates: Iterator[dict], count: int, accept: Callable[[dict], bool],
            exclude: set[str]) -> list[dict]:
    """The first ``count`` distinct candidates that ``accept`` takes and whose answer key is not in ``exclude``."""
    out: list[dict] = []
    seen: set[str] = set()
    limit = MAX_TRIES_PER_ITEM * count + 1000
    for tries, item in enumerate(candidates):
        if len(out) == count:
            break
        if tries >= limit:
            raise ValueError(f"{task}: found only {len(out)} of {count} distinct held-out items; "
                             "lower the item count or enlarge the world")
        text = overlap_text(task, item)
        if text not in seen and answer_key(task, item) not in exclude and accept(item):
            seen.add(text)
            out.append(item)
    return out


def build_evalsets(u: Universe, cfg: WorldConfig, seed: int, index: NgramIndex
                   ) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """(evaluation items, few-shot pools) per task; evaluation items share no n-gram with ``index``."""
    evals, fewshot = {}, {}
    for task in TASKS:
        generate = GENERATORS[task]
        evals[task] = collect(task, generate(stream(seed, f"eval/{task}"), u, "eval", cfg), cfg.eval_items_per_task,
                              lambda item, t=task: not index.contains(normalise(overlap_text(t, item))), set())
        used = {answer_key(task, item) for item in evals[task]}
        fewshot[task] = collect(task, generate(stream(seed, f"fewshot/{task}"), u, "fewshot", cfg),
                                cfg.fewshot_items_per_task, lambda item: True, used)
    return evals, fewshot
