"""Notebook 07's report helpers: chance levels, the Table 2 layout, the run's models, the run's training text."""

import json
import math

from hub_fixture import write_dataset

from solar_utils.config import load_preset
from solar_utils.evaluation import MemorySource, dump_source
from solar_utils.evaluation.toy import toy_items
from solar_utils.evaluation.evaluator import EvalResult
from solar_utils.stages import evaluation as report
from solar_utils.world.overlap import overlap_text

ITEMS = {
    "arc": [{"choices": {"text": ["a", "b", "c", "d"]}}, {"choices": {"text": ["a", "b"]}}],
    "hellaswag": [{"endings": ["a", "b", "c", "d"]}],
    "mmlu": [{"choices": ["a", "b", "c", "d"]}],
    "truthfulqa": [{"mc2_targets": {"labels": [1, 1, 0, 0, 0]}}],
    "winogrande": [{}],
    "gsm8k": [{}],
}


def _result(score: float) -> EvalResult:
    scores = {t: score for t in report.COLUMNS}
    return EvalResult(scores=scores, stderrs={t: 0.01 for t in report.COLUMNS}, samples={})


def test_chance_levels_come_from_the_items():
    chance = report.chance_levels(ITEMS)
    assert math.isclose(chance["arc"], (0.25 + 0.5) / 2) and chance["truthfulqa"] == 0.4
    assert (chance["winogrande"], chance["gsm8k"], chance["mmlu"]) == (0.5, 0.0, 0.25)


def test_above_chance_needs_two_standard_errors():
    chance = report.chance_levels(ITEMS)
    flags = report.above_chance(_result(0.5), chance)
    assert flags["mmlu"] and flags["gsm8k"] and not flags["winogrande"]


def test_table_has_our_rows_chance_and_the_papers():
    table = report.h6_table({"base": _result(0.5)}, report.chance_levels(ITEMS)).splitlines()
    assert table[0].startswith("| model | H6 | ARC | HellaSwag | MMLU | TruthfulQA | Winogrande | GSM8K |")
    assert table[2].startswith("| base | 50.00 | 50.0 ± 1.0")
    assert table[3].startswith("| chance |") and "SOLAR 10.7B-Instruct* | 74.20 | 71.08" in table[4]


def test_run_models_lists_stage_checkpoints_in_order(tmp_path):
    for stage in ("01_depth_up_scaling", "00_base_model", "03_synthetic_math"):
        (tmp_path / stage).mkdir()
    for stage in ("00_base_model", "01_depth_up_scaling"):
        (tmp_path / stage / "model").mkdir()
        (tmp_path / stage / "model" / "config.json").write_text("{}")
    assert list(report.run_models(tmp_path)) == ["00_base_model", "01_depth_up_scaling"]


def test_training_texts_read_the_world_the_synthetic_math_and_each_hub_source_at_its_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    world, run = tmp_path / "world", tmp_path / "run"
    items = toy_items(seed=3)
    dump_source(MemorySource(items), world / "eval")
    for path, line in (("corpus/train.jsonl", "world text"), ("03_synthetic_math/synth_math_instruct.jsonl",
                                                              "synthetic math")):
        (world if path[0] != "0" else run).joinpath(path).parent.mkdir(parents=True, exist_ok=True)
        (world if path[0] != "0" else run).joinpath(path).write_text(line + "\n")
    write_dataset(tmp_path / "web", {None: {"train": [{"text": f"web {i}"} for i in range(9)]}})
    leaked = overlap_text("gsm8k", items["gsm8k"][0][0])
    orca = [{"id": str(i), "system_prompt": "", "question": leaked if i == 1 else f"q{i}", "response": "r"}
            for i in range(9)]
    write_dataset(tmp_path / "orca", {None: {"train": orca}})
    pairs = [{"system": "", "question": f"p{i}", "chosen": "c", "rejected": "r"} for i in range(9)]
    write_dataset(tmp_path / "pairs", {None: {"train": pairs}})
    preset = load_preset("tiny", {
        "data": {"pretrain": {"kind": "hub", "path": str(tmp_path / "web"), "max_docs": 3}},
        "instruct": {"replay": None, "heldout_per_source": 1, "variants": [{"name": "v3", "sources": ["orca"]}],
                     "sources": [{"name": "orca", "schema": "openorca", "kind": "hub", "path": str(tmp_path / "orca"),
                                  "max_used": 2}]},
        "align": {"heldout_per_source": 2, "sources": [{"name": "pairs", "schema": "orca_dpo", "kind": "hub",
                                                        "path": str(tmp_path / "pairs"), "max_used": 1}]},
        "merging": {"instruction_sources": [], "math_text": {"kind": "world", "max_docs": 1}}})
    texts = list(report.training_texts(preset, world, run))
    assert texts[:2] == ["world text", "synthetic math"]  # eval/ is never training text
    assert texts[2:5] == ["web 0", "web 1", "web 2"]
    assert [json.loads(t)["question"] for t in texts[5:]] == ["q0", "q2", "q3", "p0", "p1", "p2"]  # as trained on:
    # the leaked record is filtered out, and the cap counts kept rows
