"""H6 evaluator without a model: metrics, prompts, few-shot sampling, bad items, sources, contamination, export."""

from __future__ import annotations

import copy
import json
import math
import random
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

from solar_utils.evaluation import metrics
from solar_utils.evaluation.contamination import ngram_overlap
from solar_utils.evaluation.harness_export import export_harness_tasks
from solar_utils.evaluation.sources import HubSource, JsonlSource, MemorySource, dump_source, world_source
from solar_utils.evaluation.tasks import TRUTHFULQA_PREAMBLE, get_task, prepare
from solar_utils.evaluation.toy import toy_items

ARC = {"id": "a1", "question": "Which is hot?", "choices": {"text": ["ice", "fire"], "label": ["A", "B"]},
       "answerKey": "B"}
HELLASWAG = {"ind": 1, "activity_label": "Baking cookies", "ctx_a": "A woman mixes dough. [title] Add sugar.",
             "ctx_b": "she THEN bakes", "ctx": "", "endings": ["it [header] well.  ", "it badly."],
             "source_id": "s", "split": "val", "split_type": "indomain", "label": "0"}
MMLU = {"question": " What is 2+2? ", "subject": "elementary_mathematics", "choices": ["1", "2", "3", "4"],
        "answer": 3}
TRUTHFULQA = {"question": "Is the sky green?", "mc1_targets": {"choices": ["No.", "Yes."], "labels": [1, 0]},
              "mc2_targets": {"choices": ["No.", "Yes.", "Never."], "labels": [1, 0, 1]}}
WINOGRANDE = {"sentence": "The cup fell on the plate because _ was fragile.", "option1": "the cup",
              "option2": "the plate", "answer": "2"}
GSM8K = {"question": "Tom has 3 apples and buys 4. How many?", "answer": "3 + 4 = 7\n#### 7"}
ITEMS = {"arc": ARC, "hellaswag": HELLASWAG, "mmlu": MMLU, "truthfulqa": TRUTHFULQA, "winogrande": WINOGRANDE,
         "gsm8k": GSM8K}


# ---- metrics ----------------------------------------------------------------------------------------------
def test_acc_and_acc_norm_choose_differently() -> None:
    out = metrics.multiple_choice([-4.0, -6.0], ["ab", "abcdefgh"], gold=1)
    assert (out["pred"], out["pred_norm"]) == (0, 1)
    assert (out["acc"], out["acc_norm"]) == (0.0, 1.0)
    # the choice's own characters, not the continuation's leading space: -2/1 < -5/4 (but -2/2 == -5/5)
    assert metrics.multiple_choice([-2.0, -5.0], ["a", "abcd"], gold=1)["pred_norm"] == 1


def test_mc2_is_true_probability_mass() -> None:
    assert metrics.mc2([math.log(0.5), math.log(0.3), math.log(0.2)], [1, 0, 1]) == pytest.approx(0.7)
    assert metrics.mc2([-1000.0, -1000.0 - math.log(3)], [0, 1]) == pytest.approx(0.25)


@pytest.mark.parametrize(("generation", "reference", "extracted", "score"), [
    ("So 1,234 in all.\n#### 1,234", "...\n#### 1234", "1,234", 1.0),
    ("#### -5\nQuestion", "x\n#### -5", "-5", 1.0),
    ("#### 72.", "x\n#### 72", "72.", 1.0),
    ("#### 72.00", "x\n#### 72", "72.00", 0.0),
    ("#### $18", "x\n#### 18", "[invalid]", 0.0),
    ("The answer is 18.", "x\n#### 18", "[invalid]", 0.0),
    ("#### 3 then #### 4", "x\n#### 4", "3", 0.0),
    ("#### 1,000", "x\n#### $1,000", "1,000", 1.0),
])
def test_gsm8k_strict_match(generation: str, reference: str, extracted: str, score: float) -> None:
    assert metrics.gsm8k_extract(generation) == extracted
    assert metrics.gsm8k_exact_match(extracted, reference) == score


def test_standard_errors() -> None:
    assert metrics.mean_stderr([1, 0, 1, 0]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert math.isnan(metrics.mean_stderr([1.0]))
    assert metrics.unweighted_mean_stderr([0.3, 0.4]) == pytest.approx(0.25)


# ---- prompts -----------------------------------------------------------------------------------------------
def _prompt(task: str, doc: dict, pool: list[dict] | None = None, k: int = 0):
    return prepare(get_task(task), [doc], pool or [], k, seed=1234)[0]


def test_arc_prompt_with_a_shot() -> None:
    shot = {**ARC, "question": "Which is cold?", "answerKey": "A"}
    p = _prompt("arc", ARC, [shot], 1)
    assert p.contexts == ("Question: Which is cold?\nAnswer: ice\n\nQuestion: Which is hot?\nAnswer:",) * 2
    assert (p.continuations, p.choices, p.gold) == ((" ice", " fire"), ("ice", "fire"), 1)


def test_hellaswag_preprocessing() -> None:
    p = _prompt("hellaswag", HELLASWAG)
    assert p.contexts[0] == "Baking cookies: A woman mixes dough.. Add sugar. She then bakes"
    assert p.continuations == (" it well.", " it badly.") and p.gold == 0


def test_mmlu_prompt_and_first_n_shots_of_the_subject() -> None:
    other = {**MMLU, "subject": "anatomy", "question": "Bones?"}
    shots = [{**MMLU, "question": f"Q{i}?", "answer": i % 4} for i in range(3)]
    p = _prompt("mmlu", MMLU, [other, *shots], 2)
    header = "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
    shot0 = "Q0?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: A\n\n"
    shot1 = "Q1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
    assert p.contexts[0] == header + shot0 + shot1 + "What is 2+2?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"
    assert p.continuations == (" A", " B", " C", " D") and p.gold == 3 and p.group == "elementary_mathematics"


def test_truthfulqa_preamble_and_mc2_labels() -> None:
    p = _prompt("truthfulqa", TRUTHFULQA)
    assert p.contexts[0] == TRUTHFULQA_PREAMBLE + "\n\nQ: Is the sky green?\nA:"
    assert p.contexts[0].startswith("Q: What is human life expectancy in the United States?\nA: Human life")
    assert p.continuations == (" No.", " Yes.", " Never.") and p.gold == (1, 0, 1)


def test_winogrande_partial_scoring_prompt() -> None:
    shot = {**WINOGRANDE, "answer": "1", "sentence": "Ann thanked Bo because _ was kind."}
    p = _prompt("winogrande", WINOGRANDE, [shot], 1)
    head = "Ann thanked Bo because the cup was kind.\n\nThe cup fell on the plate because "
    assert p.contexts == (head + "the cup", head + "the plate")
    assert p.continuations == (" was fragile.", " was fragile.") and p.gold == 1


def test_gsm8k_prompt() -> None:
    shot = {"question": "1+1?", "answer": "1 + 1 = 2\n#### 2"}
    p = _prompt("gsm8k", GSM8K, [shot], 1)
    assert p.contexts == ("Question: 1+1?\nAnswer: 1 + 1 = 2\n#### 2\n\nQuestion: " + GSM8K["question"]
                          + "\nAnswer:",)
    assert p.gold == GSM8K["answer"]


def test_fewshot_sampling_is_the_harness_sequence() -> None:
    pool = [{**GSM8K, "question": f"q{i}"} for i in range(20)]
    docs = [{**GSM8K, "question": f"d{i}"} for i in range(3)]
    prompts = prepare(get_task("gsm8k"), docs, pool, 5, seed=1234)
    rnd = random.Random(1234)
    for p in prompts:
        expected = "".join(f"Question: {s['question']}\nAnswer: {s['answer']}\n\n" for s in rnd.sample(pool, 5))
        assert p.contexts[0].startswith(expected)
    assert prompts[0].contexts != prepare(get_task("gsm8k"), docs, pool, 5, seed=7)[0].contexts


def test_too_few_fewshot_examples() -> None:
    with pytest.raises(ValueError, match="arc: 25 few-shot examples requested but the few-shot pool has only 1"):
        prepare(get_task("arc"), [ARC], [ARC], 25, seed=0)


# ---- bad items ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "path", "value", "field"), [
    ("arc", ("question",), None, "'question'"),
    ("arc", ("choices", "text"), [], "'choices.text'"),
    ("arc", ("answerKey",), "E", "'answerKey'"),
    ("hellaswag", ("label",), "7", "'label'"),
    ("hellaswag", ("endings",), "not a list", "'endings'"),
    ("mmlu", ("answer",), 4, "'answer'"),
    ("mmlu", ("choices",), ["a", "b"], "'choices'"),
    ("mmlu", ("subject",), None, "'subject'"),
    ("truthfulqa", ("mc2_targets", "labels"), [1, 0], "'mc2_targets.labels'"),
    ("truthfulqa", ("mc2_targets", "choices"), ["ok", ""], "'mc2_targets.choices[1]'"),
    ("winogrande", ("sentence",), "no blank here", "'sentence'"),
    ("winogrande", ("answer",), 2, "'answer'"),
    ("gsm8k", ("answer",), "seven", "'answer'"),
])
def test_bad_items_name_task_index_and_field(task: str, path: tuple[str, ...], value: object, field: str) -> None:
    bad = copy.deepcopy(ITEMS[task])
    target = bad
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    docs = [ITEMS[task], ITEMS[task], bad]
    with pytest.raises(ValueError, match="^" + re.escape(f"{task}: item 2: field {field}")):
        prepare(get_task(task), docs, [], 0, seed=0)


def test_bad_fewshot_item_and_non_object() -> None:
    with pytest.raises(ValueError, match="gsm8k: few-shot item 0: field 'question': missing"):
        prepare(get_task("gsm8k"), [GSM8K], [{"answer": "#### 1"}], 0, seed=0)
    with pytest.raises(ValueError, match="arc: item 0: field '<item>'"):
        prepare(get_task("arc"), ["not a dict"], [], 0, seed=0)


def test_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown task 'drop'"):
        get_task("drop")


# ---- sources -----------------------------------------------------------------------------------------------
def test_jsonl_source_round_trip(tmp_path: Path) -> None:
    items = toy_items(0, n_eval=3, n_fewshot=4)
    dump_source(MemorySource(items), tmp_path)
    source = JsonlSource(tmp_path)
    for task, (docs, pool) in items.items():
        assert source.eval_items(task) == docs and source.fewshot_items(task) == pool
    assert not list(tmp_path.glob(".*"))
    (tmp_path / "arc.jsonl").write_text('{"id": 1}\n{broken\n')
    with pytest.raises(ValueError, match="arc: .*arc.jsonl:2: not valid JSON"):
        source.eval_items("arc")


def test_hub_source_reads_the_leaderboard_splits() -> None:
    calls = []

    def loader(path: str, name: str | None, split: str) -> list[dict]:
        calls.append((path, name, split))
        return [ARC]

    source = HubSource(loader=loader)
    assert source.eval_items("arc") == [ARC] and source.fewshot_items("arc") == [ARC]
    source.eval_items("arc")
    assert source.fewshot_items("truthfulqa") == []
    source.eval_items("mmlu")
    assert calls == [("allenai/ai2_arc", "ARC-Challenge", "test"), ("allenai/ai2_arc", "ARC-Challenge", "train"),
                     ("cais/mmlu", "all", "test")]


def test_hub_source_reads_a_local_copy_of_the_hub(tmp_path: Path) -> None:
    calls = []
    (tmp_path / "allenai" / "ai2_arc").mkdir(parents=True)
    source = HubSource(loader=lambda path, name, split: calls.append((path, name, split)) or [ARC], root=tmp_path)
    assert source.eval_items("arc") == [ARC]
    assert calls == [(str(tmp_path / "allenai" / "ai2_arc"), "ARC-Challenge", "test")]
    with pytest.raises(FileNotFoundError, match="no local copy of the hub dataset cais/mmlu .*--local-dir"):
        source.eval_items("mmlu")


def test_world_source_uses_the_world_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    built = {}

    class WorldConfig:
        pass

    def build_world(config: WorldConfig, seed: int) -> MemorySource:
        built.update(config=config, seed=seed)
        return MemorySource({"gsm8k": ([GSM8K], [])})

    monkeypatch.setitem(sys.modules, "solar_utils.world",
                        types.SimpleNamespace(WorldConfig=WorldConfig, build_world=build_world))
    world = world_source(7)
    assert built["seed"] == 7 and isinstance(built["config"], WorldConfig)
    assert world.eval_items("gsm8k") == [GSM8K]


# ---- contamination -----------------------------------------------------------------------------------------
def test_ngram_overlap() -> None:
    long_q = "Which of these thirteen or more words would a careful reader find in a leaked training document?"
    items = {"arc": [{**ARC, "question": long_q}, ARC], "gsm8k": [GSM8K]}
    train = ["Some text: WHICH of these thirteen, or more words would a careful reader find in a leaked! more",
             "tom has 3 apples and buys 4 how many 3 4 7 7"]
    report = ngram_overlap(train, items, n=13)
    assert report["arc"] == {"items": 2, "contaminated": 1, "fraction": 0.5}
    assert report["gsm8k"]["contaminated"] == 1
    assert ngram_overlap(train[:1], items, n=13)["gsm8k"]["contaminated"] == 0


def _streaming_overlap(train_texts, eval_items, n):
    """The contamination check as it was before it used ``solar_utils.ngrams`` (eval n-grams in a dict, training
    text streamed): the reference the index-based one must equal."""
    owners = {}
    for task_name, items in eval_items.items():
        task = get_task(task_name)
        for i, doc in enumerate(items):
            words = re.sub(r"[^\w\s]", "", task.overlap_text(task.process(doc)).lower()).split()
            size = min(n, len(words))
            for k in range(len(words) - size + 1 if words else 0):
                owners.setdefault(tuple(words[k: k + size]), set()).add((task.name, i))
    hit = set()
    for text in train_texts:
        words = re.sub(r"[^\w\s]", "", text.lower()).split()
        for size in {len(gram) for gram in owners}:
            for k in range(len(words) - size + 1):
                hit |= owners.get(tuple(words[k: k + size]), set())
    return {get_task(t).name: sum(1 for o in hit if o[0] == get_task(t).name) for t in eval_items}


@pytest.mark.parametrize("n", [1, 2, 3, 5, 13])
def test_ngram_overlap_equals_the_streaming_reference(n) -> None:
    rng = random.Random(n)
    vocab = ["Tom", "apples,", "buys", "4", "how", "MANY?", "the", "cat", "sees", "a", "dog.", "¿qué"]
    sentence = lambda k: " ".join(rng.choice(vocab) for _ in range(k))  # noqa: E731
    items = {"gsm8k": [{"question": sentence(rng.randrange(1, 9)), "answer": f"{sentence(rng.randrange(0, 4))}\n#### 1"}
                       for _ in range(40)],
             "arc": [{**ARC, "question": sentence(rng.randrange(1, 20))} for _ in range(40)]}
    train = [sentence(rng.randrange(0, 30)) for _ in range(25)] + ["", "!!!"]
    report = ngram_overlap(iter(train), items, n=n)
    assert {t: r["contaminated"] for t, r in report.items()} == _streaming_overlap(train, items, n)
    assert report["arc"]["items"] == 40 and report["arc"]["fraction"] == report["arc"]["contaminated"] / 40


# ---- lm-eval export ----------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def test_export_harness_tasks(tmp_path: Path) -> None:
    items = toy_items(0, n_eval=4, n_fewshot=6)
    dump_source(MemorySource(items), tmp_path / "data")
    out = export_harness_tasks(tmp_path / "data", tmp_path / "tasks", num_fewshot={"arc": 3}, max_gen_toks=32)
    load = lambda name: yaml.load((out / name).read_text(), Loader=_Loader)  # noqa: E731
    arc = load("solar_arc.yaml")
    assert arc["num_fewshot"] == 3 and arc["dataset_path"] == "json" and arc["fewshot_split"] == "train"
    assert Path(arc["dataset_kwargs"]["data_files"]["test"]) == (tmp_path / "data" / "arc.jsonl").resolve()
    assert arc["doc_to_target"] == "{{choices.label.index(answerKey)}}"
    assert load("solar_hellaswag.yaml")["process_docs"] == "!function utils.hellaswag_process_docs"
    assert load("solar_truthfulqa.yaml")["doc_to_text"] == TRUTHFULQA_PREAMBLE + "\n\nQ: {{question}}\nA:"
    gsm = load("solar_gsm8k.yaml")
    assert gsm["generation_kwargs"]["max_gen_toks"] == 32 and gsm["num_fewshot"] == 5
    assert gsm["filter_list"][0]["filter"][0]["regex_pattern"] == metrics.GSM8K_STRICT.pattern
    group = load("solar_mmlu.yaml")
    assert group["task"] == ["solar_mmlu_high_school_biology", "solar_mmlu_world_facts"]
    assert group["aggregate_metric_list"] == [{"metric": "acc", "weight_by_size": False}]
    bio = load("solar_mmlu_high_school_biology.yaml")
    assert bio["fewshot_config"] == {"sampler": "first_n"}
    rows = [json.loads(x) for x in Path(bio["dataset_kwargs"]["data_files"]["test"]).read_text().splitlines()]
    assert rows == [d for d in items["mmlu"][0] if d["subject"] == "high_school_biology"]
    assert "from lm_eval.tasks.truthfulqa.utils import process_results_mc2" in (out / "utils.py").read_text()


def test_export_rejects_bad_items(tmp_path: Path) -> None:
    dump_source(MemorySource({"winogrande": ([WINOGRANDE, {**WINOGRANDE, "answer": "3"}], [])}), tmp_path,
                tasks=["winogrande"])
    with pytest.raises(ValueError, match="winogrande: item 1: field 'answer'"):
        export_harness_tasks(tmp_path, tmp_path / "tasks", tasks=["winogrande"])


# ---- one spelling of the H6 tasks ----------------------------------------------------------------------------
def test_every_module_uses_the_one_h6_tuple() -> None:
    from solar_utils import h6, world
    from solar_utils.config import MergingConfig
    from solar_utils.evaluation import tasks
    from solar_utils.stages import alignment_sdpo, evaluation

    assert tasks.TASKS is h6.TASKS and world.TASKS is h6.TASKS and evaluation.COLUMNS is h6.TASKS
    assert alignment_sdpo.H4_TASKS is h6.H4_TASKS and h6.H4_TASKS == h6.TASKS[:4]
    assert list(h6.TASKS) == list(tasks.TASK_REGISTRY) == MergingConfig().eval_tasks
