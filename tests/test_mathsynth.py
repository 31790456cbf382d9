"""Synth. Math-Instruct / -Alignment: answer checking, both rephrasers, cleaning, writing, determinism, bad input."""

import json

import pytest

from solar_utils.config import MathSynthConfig, load_preset
from solar_utils.mathsynth import (ALIGNMENT_FILE, INSTRUCT_FILE, Decontaminator, EmptyResultError, Funnel,
                                   Generation, ModelRephraser, Rephraser, RuleRephraser, SeedError, alignment_records,
                                   check_answer, decontaminate, deduplicate, extract_boxed, load_seeds, to_seeds,
                                   unanswered, verify_generations, write_outputs)
from solar_utils.mathsynth.grammar import STYLES, WORDINGS, parse
from solar_utils.mathsynth.seeds import read_hub_seeds
from solar_utils.world import TASKS, WorldConfig, build_world
from solar_utils.world.mathseeds import TEMPLATES

SMALL_WORLD = WorldConfig(n_math_seeds=48)


@pytest.fixture(scope="module")
def world():
    return build_world(SMALL_WORLD, seed=7)


@pytest.fixture(scope="module")
def seeds(world):
    return to_seeds(world.math_seeds())[0]


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize("text, expected", [
    ("so $\\boxed{12}$.", "12"),
    ("first \\boxed{1} then \\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}"),
    ("\\fbox{x^{2}}", "x^{2}"),
    ("no box here", None),
    ("\\boxed{unclosed", None),
])
def test_extract_boxed_takes_the_last_box_with_nested_braces(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize("got, want", [
    ("\\frac{1}{2}", "0.5"), ("\\dfrac{3}{4}", "3/4"), ("\\tfrac12", "\\frac{1}{2}"), ("-5", "-5.0"),
    ("-\\frac{2}{4}", "-0.5"), ("12 rolls", "12"), ("5\\text{ cm}", "5"), ("45^\\circ", "45"), ("10\\%", "10"),
    ("1,000", "1000"), ("x = 7", "7"), ("2\\sqrt{3}", "\\sqrt{12}"), ("3 \\times 4", "12"), ("2x+1", "1+2x"),
    ("\\text{(B)}", "\\text{(B)}"),
])
def test_equivalent_answers_are_accepted(got, want):
    verdict = check_answer(f"The answer is $\\boxed{{{got}}}$.", want)
    assert verdict.ok, verdict


@pytest.mark.parametrize("got, want, reason", [
    ("13", "12", "wrong answer"), ("-\\frac{1}{2}", "0.5", "wrong answer"), ("0.333", "1/3", "wrong answer"),
    ("9^9^9^9", "1", "unparsable answer"), ("__import__('os')", "1", "unparsable answer"),
    ("(1 +", "1", "unparsable answer"), ("\\frac{1}{2", "1", "no boxed answer"), ("1/0", "1", "wrong answer"),
])
def test_wrong_or_unsafe_answers_are_counted_rejections(got, want, reason):
    verdict = check_answer(f"$\\boxed{{{got}}}$", want)
    assert not verdict.ok and verdict.reason == reason


def test_an_answer_without_a_box_is_rejected():
    assert check_answer("I think it is 12.", "12").reason == "no boxed answer"


# ---------------------------------------------------------------- seeds


def test_world_seeds_load_from_the_world_folder(tmp_path, world):
    world.write(tmp_path / "world")
    seeds, rejected = load_seeds(MathSynthConfig(max_seeds=10), tmp_path / "world")
    assert len(seeds) == 10 and not rejected and seeds[0].answer == extract_boxed(seeds[0].solution)


def test_missing_world_seeds_say_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="00_base_model"):
        load_seeds(MathSynthConfig(), tmp_path)


def test_hub_seeds_come_through_the_loader_with_ids():
    calls = []

    def loader(path, name, split):
        calls.append((path, name, split))
        return [{"problem": f"{name} p", "solution": "$\\boxed{3}$", "level": "Level 1", "type": "Algebra"}]

    cfg = MathSynthConfig(source="hub", seed_dataset="EleutherAI/hendrycks_math", seed_subsets=["algebra", "geometry"])
    seeds, rejected = load_seeds(cfg, loader=loader)
    assert calls == [(cfg.seed_dataset, "algebra", "train"), (cfg.seed_dataset, "geometry", "train")]
    assert [s.id for s in seeds] == ["algebra/train/00000", "geometry/train/00000"] and seeds[0].answer == "3"
    with pytest.raises(ValueError, match="seed_dataset"):
        read_hub_seeds(MathSynthConfig(source="hub"), loader)


def test_seeds_without_a_box_are_counted_and_malformed_ones_are_named():
    good = {"id": "a", "problem": "p", "solution": "$\\boxed{1}$", "level": "Level 1", "type": "Algebra"}
    seeds, rejected = to_seeds([good, {**good, "id": "b", "solution": "no answer"}])
    assert [s.id for s in seeds] == ["a"] and rejected == {"b": "no boxed answer"}
    with pytest.raises(SeedError, match="seed c.*solution"):
        to_seeds([{**good, "id": "c", "solution": None}])


# ---------------------------------------------------------------- rephrasers


def test_every_template_has_wordings_and_every_seed_parses(seeds):
    assert set(WORDINGS) == {t.id for t in TEMPLATES}
    assert all(parse(s.problem) is not None for s in seeds)


def test_rule_rephraser_contract(seeds):
    rephraser = RuleRephraser()
    assert isinstance(rephraser, Rephraser)
    out = rephraser.generate(seeds, ["rephrase", "answer_aug"], 2, seed=1)
    assert len(out) == 4 * len(seeds)
    assert {g.generator for g in out} == {rephraser.name} and {g.method for g in out} == {"rephrase", "answer_aug"}
    by_id = {s.id: s for s in seeds}
    assert all(g.question != by_id[g.seed_id].problem for g in out if g.method == "rephrase")
    assert all(g.question == by_id[g.seed_id].problem for g in out if g.method == "answer_aug")
    verified, wrong = verify_generations(out, seeds)
    assert len(verified) == len(out) and not wrong  # answers are re-derived, so all verify
    with pytest.raises(ValueError, match="unknown rephrasing"):
        rephraser.generate(seeds, ["fobar"], 1, seed=1)


def test_rule_rephraser_rederives_answers_from_the_question(seeds):
    doctored = [s.__class__(**{**s.__dict__, "answer": "99999"}) for s in seeds[:5]]
    out = RuleRephraser().generate(doctored, ["rephrase"], 1, seed=1)
    assert all(g.solution.endswith(f"\\boxed{{{s.answer}}}$.") for g, s in zip(out, seeds[:5]))
    assert not verify_generations(out, doctored)[0]
    assert all(any(g.solution.startswith(style.opening) for style in STYLES) for g in out)


def test_a_seed_the_grammar_cannot_read_yields_nothing_and_is_counted(seeds):
    odd = seeds[0].__class__("odd", "What is love?", "$\\boxed{1}$", "Level 1", "Algebra", "1")
    out = RuleRephraser().generate([odd, seeds[0]], ["rephrase"], 1, seed=1)
    assert {g.seed_id for g in out} == {seeds[0].id}
    assert unanswered([odd, seeds[0]], out) == {"odd": "no generation"}


def test_model_rephraser_contract_with_a_tiny_random_model(tiny_model, tokenizer, seeds):
    greedy = ModelRephraser(tiny_model, tokenizer, "tiny-random", batch_size=4, max_new_tokens=4, temperature=0)
    assert isinstance(greedy, Rephraser)
    out = greedy.generate(seeds[:2], ["rephrase", "answer_aug"], 2, seed=0)
    assert out and all(g.generator == "model:tiny-random" for g in out)
    assert {g.seed_id for g in out} <= {s.id for s in seeds[:2]} and len(out) <= 4  # greedy: one draw each
    verified, wrong = verify_generations(out, seeds[:2])
    assert len(verified) + len(wrong) == len(out) and wrong  # garbage is counted, not fatal
    sampled = ModelRephraser(tiny_model, tokenizer, "tiny-random", batch_size=8, max_new_tokens=4, temperature=1.0)
    first = sampled.generate(seeds[:2], ["rephrase", "answer_aug"], 2, seed=3)
    assert 4 < len(first) <= 8 and first == sampled.generate(seeds[:2], ["rephrase", "answer_aug"], 2, seed=3)


def test_a_generator_that_returns_nothing_is_counted(tiny_model, tokenizer, seeds, monkeypatch):
    rephraser = ModelRephraser(tiny_model, tokenizer, "silent", max_new_tokens=2, temperature=0)
    monkeypatch.setattr(rephraser, "complete", lambda prompts, samples: [[""] * samples for _ in prompts])
    out = rephraser.generate(seeds[:2], ["rephrase", "answer_aug"], 1, seed=0)
    assert out == [] and unanswered(seeds[:2], out) == {s.id: "no generation" for s in seeds[:2]}


# ---------------------------------------------------------------- cleaning


def gen(question: str, solution: str = "The answer is $\\boxed{1}$.", seed_id: str = "s", method: str = "rephrase"):
    return Generation(seed_id, method, "test", question, solution)


def test_exact_and_near_duplicates_are_removed_with_reasons():
    a = gen("A farmer packs 32 eggs into boxes that hold 2 eggs each. How many boxes does the farmer fill today?")
    same = gen(a.question.upper().replace(".", " ."))
    near = gen(a.question, a.solution + " Done.")
    other = gen("Solve for $x$: $3x + 4 = 19$.")
    kept, removed = deduplicate([a, same, near, other], n=3, threshold=0.8)
    assert kept == [a, other]
    assert [r.reason for r in removed] == ["exact duplicate", "near duplicate"]
    kept, _ = deduplicate([a, near], n=3, threshold=1.0)
    assert kept == [a, near]


def test_a_planted_eval_item_is_removed(world, seeds):
    eval_sets = {task: world.eval_items(task) for task in TASKS}
    clean = RuleRephraser().generate(seeds[:5], ["rephrase"], 1, seed=1)
    planted = gen(f"Here is a problem. {eval_sets['gsm8k'][3]['question']}", seed_id="planted")
    short_item = eval_sets["mmlu"][0]
    short = gen(" ".join([short_item["question"], *short_item["choices"]]) + " Think about it.", seed_id="short")
    kept, removed = decontaminate([*clean, planted, short], Decontaminator(eval_sets, n=13))
    assert kept == clean
    assert [(r.generation.seed_id, r.reason) for r in removed] == [("planted", "overlaps gsm8k"),
                                                                    ("short", "overlaps mmlu")]


# ---------------------------------------------------------------- writing


def pipeline(seeds, world, out_dir, seed=1):
    funnel = Funnel()
    funnel.add("seeds", len(seeds))
    generations = RuleRephraser().generate(seeds, ["rephrase", "answer_aug"], 2, seed)
    funnel.add("generated", len(generations), unanswered(seeds, generations))
    verified, wrong = verify_generations(generations, seeds)
    funnel.add("verified", len(verified), wrong)
    unique, dups = deduplicate(verified)
    funnel.add("deduplicated", len(unique), dups)
    clean, leaks = decontaminate(unique, Decontaminator({t: world.eval_items(t) for t in TASKS}))
    funnel.add("decontaminated", len(clean), leaks)
    return write_outputs(out_dir, funnel, clean, seeds, "rules", ["rephrase", "answer_aug"])


def test_outputs_are_byte_identical_for_the_same_seed(tmp_path, seeds, world):
    first, second, other = (pipeline(seeds, world, tmp_path / name, seed) for name, seed in
                            (("a", 1), ("b", 1), ("c", 2)))
    for name in (INSTRUCT_FILE, ALIGNMENT_FILE, "datasheet.json", "datasheet.md"):
        assert first[name].read_bytes() == second[name].read_bytes(), name
    assert first[INSTRUCT_FILE].read_bytes() != other[INSTRUCT_FILE].read_bytes()
    record = json.loads(first[INSTRUCT_FILE].read_text().splitlines()[0])
    assert set(record) == {"instruction", "response", "provenance"}
    assert set(record["provenance"]) == {"seed_id", "method", "generator", "verified"}
    sheet = json.loads(first["datasheet.json"].read_text())
    assert sheet["steps"] == ["seeds", "generated", "verified", "deduplicated", "decontaminated"]
    assert sheet["records"][INSTRUCT_FILE] == sheet["funnel"]["decontaminated"]


def test_alignment_pairs_prefer_the_rephrased_answer(seeds):
    generations = RuleRephraser().generate(seeds[:6], ["rephrase", "answer_aug"], 1, seed=1)
    pairs = alignment_records(generations, seeds)
    originals = {s.id: s for s in seeds}
    assert len(pairs) == 6
    for pair in pairs:
        seed = originals[pair["provenance"]["seed_id"]]
        assert pair["provenance"]["method"] == "rephrase" and pair["prompt"] != seed.problem
        assert pair["rejected"] == seed.solution and pair["chosen"] != pair["rejected"]
    copy = gen(seeds[0].problem, seeds[0].solution, seed_id=seeds[0].id)
    assert alignment_records([copy], seeds) == []


def test_an_empty_result_names_the_step_and_writes_nothing(tmp_path, seeds):
    funnel = Funnel()
    funnel.add("seeds", len(seeds))
    funnel.add("generated", 3)
    funnel.add("verified", 0, {"x": "wrong answer"})
    with pytest.raises(EmptyResultError, match="'verified'"):
        write_outputs(tmp_path, funnel, [], seeds, "rules", ["rephrase"])
    assert not list(tmp_path.iterdir())


def test_presets_hold_a_mathsynth_section():
    tiny, small = load_preset("tiny").mathsynth, load_preset("small").mathsynth
    assert (tiny.source, tiny.rephraser) == ("world", "rules")
    assert (small.source, small.rephraser) == ("hub", "model") and small.seed_dataset and small.generator_id
