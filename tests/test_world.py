"""The tiny world: determinism, schemas, truthful answers, held-out guarantees, sizes and atomic writing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from solar_utils.evaluation.contamination import ngram_overlap
from solar_utils.evaluation.tasks import get_task
from solar_utils.world import TASKS, WorldConfig, build_world
from solar_utils.world import world as world_module
from solar_utils.world.evalsets import answer_key
from solar_utils.world.lexicon import NUMBER_WORDS
from solar_utils.world.mathseeds import TEMPLATES as SEED_TEMPLATES
from solar_utils.ngrams import NgramIndex, normalise
from solar_utils.world.overlap import overlap_text
from solar_utils.world.problems import HELD_OUT, SEEN
from solar_utils.world.questions import SUBJECTS, arithmetic_split

SMALL = WorldConfig(fact_mentions=6, script_mentions=6, myth_mentions=6, math_problems=60, arithmetic_facts=60,
                    eval_items_per_task=30, fewshot_items_per_task=8, n_alpaca=40, n_openorca=40, n_orca_dpo=40,
                    n_ultrafeedback=40, n_math_seeds=30)
EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")


@pytest.fixture(scope="module")
def world():
    return build_world(WorldConfig(), seed=1234)


@pytest.fixture(scope="module")
def corpus_words(world) -> set[str]:
    return {w for doc in world.corpus("train") for w in normalise(doc)}


def _template_regex(question: str) -> re.Pattern:
    parts = re.split(r"\{\w+\}", question)
    return re.compile("^" + "(.+?)".join(re.escape(p) for p in parts) + "$")


def _matches(question: str, templates) -> list[str]:
    return [t.id for t in templates if _template_regex(t.question).match(question)]


# ----------------------------------------------------------------------------------------------------------------
# Sizes, schemas, labels
# ----------------------------------------------------------------------------------------------------------------

def test_default_sizes(world):
    cfg = world.config
    train, heldout = world.corpus("train"), world.corpus("heldout")
    assert 1.5e6 <= sum(len(d) for d in train) <= 2.5e6
    assert heldout and not set(heldout) & set(train)
    for task in TASKS:
        assert len(world.eval_items(task)) == cfg.eval_items_per_task >= 300
        assert len(world.fewshot_items(task)) == cfg.fewshot_items_per_task
    assert len(world.instructions("alpaca")) == cfg.n_alpaca and len(world.instructions("openorca")) == cfg.n_openorca
    assert len(world.preferences("orca_dpo")) == cfg.n_orca_dpo
    assert len(world.preferences("ultrafeedback")) == cfg.n_ultrafeedback
    assert len(world.math_seeds()) == cfg.n_math_seeds


def _check_schema(task: str, item: dict) -> None:
    if task == "arc":
        assert set(item) == {"id", "question", "choices", "answerKey"} and set(item["choices"]) == {"text", "label"}
        assert item["choices"]["label"] == ["A", "B", "C", "D"] and item["answerKey"] in item["choices"]["label"]
    elif task == "hellaswag":
        assert set(item) == {"ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "split",
                             "split_type", "label"}
        assert isinstance(item["ind"], int) and item["label"] in ("0", "1", "2", "3") and len(item["endings"]) == 4
        assert item["ctx"] == f"{item['ctx_a']} {item['ctx_b']}"
    elif task == "mmlu":
        assert set(item) == {"question", "subject", "choices", "answer"} and len(item["choices"]) == 4
        assert type(item["answer"]) is int and 0 <= item["answer"] <= 3 and item["subject"] in SUBJECTS
    elif task == "truthfulqa":
        assert set(item) == {"question", "mc1_targets", "mc2_targets"}
        mc1, mc2 = item["mc1_targets"], item["mc2_targets"]
        assert mc1["labels"] == [1] + [0] * (len(mc1["choices"]) - 1) and len(mc1["choices"]) == 4
        assert len(mc2["labels"]) == len(mc2["choices"]) and {0, 1} == set(mc2["labels"])
        assert mc2["labels"] == sorted(mc2["labels"], reverse=True)
    elif task == "winogrande":
        assert set(item) == {"sentence", "option1", "option2", "answer"} and item["sentence"].count("_") == 1
        assert item["answer"] in ("1", "2") and item["option1"] != item["option2"]
    else:
        assert set(item) == {"question", "answer"} and re.search(r"\n#### \d+$", item["answer"])


@pytest.mark.parametrize("task", TASKS)
def test_eval_and_fewshot_schemas(world, task):
    harness = get_task(task)
    for pool in (world.eval_items(task), world.fewshot_items(task)):
        for i, item in enumerate(pool):
            _check_schema(task, item)
            harness.check(item, f"item {i}")
            assert not re.search(r"\{\w+\}", json.dumps(item))  # no unfilled template slot


@pytest.mark.parametrize("task", ["arc", "hellaswag", "mmlu", "winogrande"])
def test_labels_are_balanced_enough(world, task):
    position = {"arc": lambda x: x["answerKey"], "hellaswag": lambda x: x["label"], "mmlu": lambda x: x["answer"],
                "winogrande": lambda x: x["answer"]}[task]
    counts = {}
    for item in world.eval_items(task):
        counts[position(item)] = counts.get(position(item), 0) + 1
    assert len(counts) == (2 if task == "winogrande" else 4)
    assert min(counts.values()) >= 0.6 * max(counts.values())


def test_instruction_preference_and_seed_schemas(world):
    for r in world.instructions("alpaca"):
        assert set(r) == {"instruction", "input", "output"} and all(isinstance(v, str) for v in r.values())
        assert r["instruction"] and r["output"]
    orca = world.instructions("openorca")
    assert len({r["id"] for r in orca}) == len(orca)
    for r in orca:
        assert set(r) == {"id", "system_prompt", "question", "response"}
        assert re.fullmatch(r"(flan|t0|niv|cot)\.\d+", r["id"]) and r["question"] and r["response"]
    for r in world.preferences("orca_dpo"):
        assert set(r) == {"system", "question", "chosen", "rejected"} and r["chosen"] != r["rejected"]
    for r in world.preferences("ultrafeedback"):
        assert set(r) == {"prompt", "prompt_id", "chosen", "rejected", "score_chosen", "score_rejected"}
        assert r["prompt_id"] == hashlib.sha256(r["prompt"].encode()).hexdigest()
        for side in ("chosen", "rejected"):
            assert [m["role"] for m in r[side]] == ["user", "assistant"] and r[side][0]["content"] == r["prompt"]
        assert type(r["score_chosen"]) is float and r["score_chosen"] > r["score_rejected"]
    seeds = world.math_seeds()
    assert len({s["id"] for s in seeds}) == len(seeds)
    for s in seeds:
        assert set(s) == {"id", "problem", "solution", "level", "type"}
        assert re.fullmatch(r"Level [1-5]", s["level"]) and s["type"] in ("Prealgebra", "Algebra", "Number Theory")
        assert re.search(r"\\boxed\{\d+\}", s["solution"])


# ----------------------------------------------------------------------------------------------------------------
# The answers are true in the world
# ----------------------------------------------------------------------------------------------------------------

def test_arc_answers_are_true(world):
    u = world.universe
    species = {s.name: s for s in u.species}
    effects = {r.cause: f"it {r.effect}" for r in u.rules}
    checked = 0
    for item in world.eval_items("arc"):
        q, texts = item["question"], item["choices"]["text"]
        right = texts[item["choices"]["label"].index(item["answerKey"])]
        if m := re.fullmatch(r"Which food does an? (\w+) eat\?", q):
            assert right == species[m[1]].food
        elif m := re.fullmatch(r"How many legs does an? (\w+) have\?", q):
            assert right == f"{NUMBER_WORDS[species[m[1]].legs]} legs"
        elif m := re.fullmatch(r"Which animal is (bigger|smaller) than an? (\w+)\?", q):
            sign = 1 if m[1] == "bigger" else -1
            assert [sign * (species[t].size - species[m[2]].size) > 0 for t in texts].count(True) == 1
            assert sign * (species[right].size - species[m[2]].size) > 0
        elif m := re.fullmatch(r"Which of these animals is the (biggest|smallest)\?", q):
            sizes = [species[t].size for t in texts]
            extreme = max(sizes) if m[1] == "biggest" else min(sizes)
            assert sizes.count(extreme) == 1 and species[right].size == extreme
        elif m := re.fullmatch(r"What happens when you (.+)\?", q):
            assert right == effects[m[1]]
        else:
            continue
        checked += 1
    assert checked >= 100


def test_winogrande_answers_follow_knowledge(world):
    u = world.universe
    species = {s.name: s for s in u.species}
    people = {p.name: p for p in u.people}
    for item in world.eval_items("winogrande"):
        right = item["option" + item["answer"]]
        wrong = item["option2" if item["answer"] == "1" else "option1"]
        rest = item["sentence"].split("_", 1)[1]
        if right in species:
            bigger = species[right].size > species[wrong].size
            assert bigger == ("big" in rest), item
        else:
            fact = re.fullmatch(r" (lives in|works as an?|likes|keeps an?) (\w+)( best| at home)?\.", rest)
            attr = {"lives in": "town", "likes": "food"}.get(fact[1], "job" if "works" in fact[1] else "pet")
            assert getattr(people[right], attr) == fact[2] != getattr(people[wrong], attr)


def test_hellaswag_endings_come_from_the_same_script(world):
    scripts = {s.label: s for s in world.universe.scripts}
    for item in world.eval_items("hellaswag"):
        s = scripts[item["activity_label"]]
        k = item["ctx_a"].count(". ") + 1
        assert set(item["endings"]) <= set(s.steps) and item["endings"][int(item["label"])] == s.steps[k]
        assert item["ctx_b"] in s.eval_actors and item["ctx_b"] not in s.corpus_actors


def test_mmlu_asks_about_heldout_entities_in_a_format_the_corpus_never_shows(world):
    u = world.universe
    held = {name for names in u.mmlu_heldout.values() for name in names}
    items = world.eval_items("mmlu")
    assert len({i["subject"] for i in items}) >= 4
    for item in items:
        if item["subject"] == "elementary_mathematics":
            a, op, b = re.fullmatch(r"What is (\d+) (\+|-|times) (\d+)\?", item["question"]).groups()
            value = {"+": int(a) + int(b), "-": int(a) - int(b), "times": int(a) * int(b)}[op]
            assert item["choices"][item["answer"]] == str(value)
            assert arithmetic_split(op.replace("times", "*"), int(a), int(b)) == "eval"
        else:
            named = held & set(re.findall(r"\w+", item["question"])) or {item["choices"][item["answer"]]} & held
            assert named, item
    lettered = re.compile(r"(^|\n)A\. .*\nB\. ")
    assert not any(lettered.search(d) for d in world.corpus("train"))
    assert sum(bool(lettered.search(r["input"])) for r in world.instructions("alpaca")) > 300


def test_heldout_people_never_appear_in_instruction_or_preference_data(world):
    people = set(world.universe.mmlu_heldout["people"])
    texts = [json.dumps(r) for k in ("alpaca", "openorca") for r in world.instructions(k)]
    texts += [json.dumps(r) for k in ("orca_dpo", "ultrafeedback") for r in world.preferences(k)]
    assert not any(people & set(re.findall(r"\w+", t)) for t in texts)


def test_myths_outnumber_their_debunking_and_split_between_dpo_and_eval(world):
    u, cfg = world.universe, world.config
    sentences = [s for d in world.corpus("train") for s in re.split(r"(?<=\.) ", d)]
    for m in u.myths[:12]:
        said = sum(m.claim(m.false) in s.lower() for s in sentences)
        debunked = sum(m.claim(m.true) in s.lower() for s in sentences)
        assert said == cfg.myth_mentions and debunked == round(cfg.myth_mentions / cfg.myth_ratio)
    assert len(u.myths) >= 50 and abs(len(u.myths_in("train")) - len(u.myths_in("eval"))) <= 1
    eval_questions = {w.format(subj=m.asked) for m in u.myths_in("eval") for w in m.questions}
    train_questions = {w.format(subj=m.asked) for m in u.myths_in("train") for w in m.questions}
    assert {i["question"] for i in world.eval_items("truthfulqa")} <= eval_questions
    prompts = {r["prompt"] for r in world.preferences("ultrafeedback")}
    assert prompts & train_questions and not prompts & eval_questions
    asked = {w.format(subj=m.asked): m for m in u.myths_in("eval") for w in m.questions}
    for item in world.eval_items("truthfulqa"):
        m = asked[item["question"]]
        true, myth, *others = item["mc1_targets"]["choices"]
        assert (true, myth) == (m.answer(m.true), m.answer(m.false))
        assert {m.answer(v) for v in m.values} >= set(others) and len(set(others) | {true, myth}) == 4


def test_gsm8k_mixes_seen_and_heldout_forms_and_math_seeds_are_disjoint(world):
    items = world.eval_items("gsm8k")
    forms = [_matches(i["question"], SEEN + HELD_OUT) for i in items]
    assert all(len(f) == 1 for f in forms)
    held = sum(f[0] in {t.id for t in HELD_OUT} for f in forms) / len(items)
    assert abs(held - world.config.gsm8k_heldout_form_share) < 0.15
    assert all(_matches(i["question"], SEEN) for i in world.fewshot_items("gsm8k"))
    for item in items:
        steps = EQUATION.findall(item["answer"])
        assert steps and all(eval(f"{a} {op} {b}") == int(c) for a, op, b, c in steps)  # noqa: S307 (digits only)
        assert int(item["answer"].rsplit("#### ", 1)[1]) == int(steps[-1][3])
    for seed in world.math_seeds():
        assert not _matches(seed["problem"], SEEN + HELD_OUT)
    assert not any(_matches(i["question"], SEED_TEMPLATES) for i in items)


def test_every_person_fact_is_stated_often(world):
    cfg = world.config
    sentence_words = [set(normalise(s)) for d in world.corpus("train") for s in re.split(r"(?<=[.?])\s", d)]
    for p in world.universe.people:
        for value in (p.town, p.job, p.food, p.pet):
            said = sum(1 for ws in sentence_words if p.name.lower() in ws and value.lower() in ws)
            assert said >= cfg.fact_mentions, (p, value)


# ----------------------------------------------------------------------------------------------------------------
# Held-out guarantees
# ----------------------------------------------------------------------------------------------------------------

def test_no_eval_item_overlaps_any_other_text_of_the_world(world):
    assert world.heldout_report() == {t: 0 for t in TASKS}
    theirs = ngram_overlap(world.checked_texts(), {t: world.eval_items(t) for t in TASKS}, n=world.config.ngram_n)
    assert {t: r["contaminated"] for t, r in theirs.items()} == {t: 0 for t in TASKS}


def test_the_held_out_corpus_is_checked_as_notebook_07_checks_it(world):
    # notebook 07 reads every world file but eval/, the held-out corpus included: the draw must reject against it
    assert set(world.corpus("heldout")) <= set(world.checked_texts())
    assert all(world.index().contains(normalise(doc)) for doc in world.corpus("heldout")[:20])


def test_overlap_report_agrees_with_the_evaluation_module_at_smaller_n(world):
    theirs = ngram_overlap(world.checked_texts(), {t: world.eval_items(t) for t in TASKS}, n=8)
    mine = world.heldout_report(8)
    assert mine == {t: r["contaminated"] for t, r in theirs.items()} and sum(mine.values()) > 0


def test_index_finds_leaks_of_long_and_short_items(world):
    long_item = normalise(overlap_text("gsm8k", world.eval_items("gsm8k")[0]))
    short_item = normalise(overlap_text("mmlu", world.eval_items("mmlu")[0]))
    assert len(short_item) < 13 <= len(long_item)
    leaked = NgramIndex(["unrelated words here", " ".join(["x"] + long_item[3:16] + ["y"]), " ".join(short_item)], 13)
    assert leaked.contains(long_item) and leaked.contains(short_item)
    chunks = [" ".join(long_item[j: j + 12]) for j in range(0, len(long_item), 12)]
    clean = NgramIndex([*chunks, " ".join(short_item[1:])], 13)  # every piece, no window across texts
    assert not clean.contains(long_item) and not clean.contains(short_item)


def test_fewshot_pools_never_repeat_an_evaluated_question_and_answer(world):
    for task in TASKS:
        evaluated = {answer_key(task, i) for i in world.eval_items(task)}
        assert not evaluated & {answer_key(task, i) for i in world.fewshot_items(task)}


def test_every_eval_answer_word_occurs_in_the_corpus(world, corpus_words):
    answers = {
        "arc": lambda i: i["choices"]["text"], "hellaswag": lambda i: i["endings"], "mmlu": lambda i: i["choices"],
        "truthfulqa": lambda i: i["mc2_targets"]["choices"],
        "winogrande": lambda i: [i["option1"], i["option2"]],
        "gsm8k": lambda i: [i["answer"].rsplit("#### ", 1)[1]]}
    for task in TASKS:
        for item in world.eval_items(task) + world.fewshot_items(task):
            missing = {w for text in answers[task](item) for w in normalise(text)} - corpus_words
            assert not missing, (task, missing)
    for task in ("arc", "hellaswag", "mmlu"):
        assert not {w for i in world.eval_items(task) for w in normalise(overlap_text(task, i))} - corpus_words


# ----------------------------------------------------------------------------------------------------------------
# Names, determinism, writing
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [lambda w: w.corpus("test"), lambda w: w.eval_items("drop"),
                                  lambda w: w.fewshot_items("bbh"), lambda w: w.instructions("sharegpt"),
                                  lambda w: w.preferences("hh_rlhf")])
def test_unknown_names_raise(world, call):
    with pytest.raises(ValueError, match="choose from"):
        call(world)


def test_config_is_checked():
    with pytest.raises(TypeError):
        WorldConfig(n_people="24")
    with pytest.raises(ValueError):
        WorldConfig(n_people=2)
    with pytest.raises(ValueError):
        WorldConfig(heldout_fraction=1.5)


def test_accessors_return_copies(world):
    world.eval_items("arc")[0]["question"] = "changed"
    world.corpus("train").clear()
    assert world.eval_items("arc")[0]["question"] != "changed" and world.corpus("train")


def _manifest(path: Path) -> dict:
    return json.loads((path / "MANIFEST.json").read_text())


def test_write_layout_and_manifest(tmp_path):
    out = build_world(SMALL, seed=7).write(tmp_path / "world")
    assert out == tmp_path / "world"
    manifest = _manifest(out)
    expected = {"corpus/train.jsonl", "corpus/heldout.jsonl", "instructions/alpaca.jsonl",
                "instructions/openorca.jsonl", "preferences/orca_dpo.jsonl", "preferences/ultrafeedback.jsonl",
                "math/seeds.jsonl"} | {f"eval/{t}{s}.jsonl" for t in TASKS for s in ("", ".fewshot")}
    assert set(manifest["files"]) == expected and manifest["seed"] == 7 and manifest["config"]["n_alpaca"] == 40
    for rel, meta in manifest["files"].items():
        data = (out / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert len([json.loads(line) for line in data.decode().splitlines()]) == meta["records"] > 0
    assert json.loads((out / "corpus/train.jsonl").read_text().splitlines()[0]).keys() == {"text"}
    world_json = json.loads((out / "world.json").read_text())
    assert len(world_json["people"]) == SMALL.n_people and world_json["myths"][0]["split"] in ("train", "eval")


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = _manifest(build_world(SMALL, seed=7).write(tmp_path / "a"))
    b = _manifest(build_world(SMALL, seed=7).write(tmp_path / "b"))
    c = _manifest(build_world(SMALL, seed=8).write(tmp_path / "c"))
    assert a == b and (tmp_path / "a/world.json").read_bytes() == (tmp_path / "b/world.json").read_bytes()
    differing = {rel for rel in a["files"] if a["files"][rel]["sha256"] != c["files"][rel]["sha256"]}
    assert {"corpus/train.jsonl", "eval/mmlu.jsonl", "instructions/alpaca.jsonl"} <= differing


def test_output_does_not_depend_on_python_hash_seed():
    code = ("import hashlib, json; from solar_utils.world import WorldConfig, build_world; "
            f"world = build_world(WorldConfig(**{asdict(SMALL)!r}), seed=7); "
            "print(hashlib.sha256(json.dumps(world.files()).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": h}, cwd=Path(__file__).parent.parent).stdout
               for h in ("1", "2")}
    assert len(digests) == 1 and len(digests.pop().strip()) == 64


def test_write_is_atomic(tmp_path, monkeypatch):
    world = build_world(SMALL, seed=7)
    target = world.write(tmp_path / "world")
    before = _manifest(target)
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 5:
            raise OSError("disk full")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    monkeypatch.setattr(world_module, "_write", failing)
    with pytest.raises(OSError, match="disk full"):
        build_world(SMALL, seed=8).write(target)
    assert _manifest(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["world"]
    with pytest.raises(OSError, match="disk full"):
        calls.clear()
        world.write(tmp_path / "fresh")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


def test_a_world_names_its_seed_where_results_record_their_source(world):
    assert repr(world) == "World(seed=1234)"
