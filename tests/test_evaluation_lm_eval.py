"""Agreement with lm-evaluation-harness: its HFLM on our exported tasks vs our evaluator, item by item.

The tiny random Llama has 256 positions, so the 25-shot ARC and 10-shot HellaSwag contexts are left-truncated
in both (and GSM8K generates at most 16 tokens, as the exported YAML says).
"""

from __future__ import annotations

import json
import math

import pytest

from solar_utils.evaluation import TASKS, MemorySource, dump_source, evaluate, export_harness_tasks, harness_task_name
from solar_utils.cli import main
from solar_utils.evaluation.harness_export import align_harness_samples
from solar_utils.evaluation.harness_run import HUB_TASKS, harness_evaluate
from solar_utils.evaluation.tasks import get_task
from solar_utils.evaluation.toy import toy_setup

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'lm-eval==0.4.13')")


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory):
    """A random toy model (256 positions) and its items as a JSONL task folder, harness runs offline."""
    tmp = tmp_path_factory.mktemp("lm_eval")
    items, tokenizer, model = toy_setup(seed=1, n_eval=6, max_positions=256)
    model.save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    dump_source(MemorySource(items), tmp / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        yield tmp, items, tokenizer, model


@pytest.fixture(scope="module")
def both(toy):
    tmp, items, tokenizer, model = toy
    export_harness_tasks(tmp / "data", tmp / "tasks", max_gen_toks=16)
    ours = evaluate(model, tokenizer, source=tmp / "data", batch_size=4, max_gen_toks=16, progress=False)
    from lm_eval.tasks import TaskManager

    theirs = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={tmp / 'model'},dtype=float32", device="cpu", batch_size=4,
        tasks=[harness_task_name(t) for t in TASKS], task_manager=TaskManager(include_path=str(tmp / "tasks")),
        log_samples=True, fewshot_random_seed=1234,
    )
    return ours, theirs, items


@pytest.mark.parametrize("task", [t for t in TASKS if t != "gsm8k"])
def test_loglikelihoods_and_predictions_agree(both, task: str) -> None:
    ours, theirs, items = both
    aligned = align_harness_samples(theirs["samples"], task, items[task][0])
    for mine, their in zip(ours.samples[task], aligned, strict=True):
        contexts = mine["context"] if isinstance(mine["context"], list) else [mine["context"]] * len(
            mine["continuations"])
        assert [tuple(a) for a in their["arguments"]] == list(zip(contexts, mine["continuations"], strict=True))
        assert mine["loglikelihoods"] == pytest.approx([r[0] for r in their["filtered_resps"]], abs=1e-4)
        if task == "truthfulqa":
            assert mine["mc2"] == pytest.approx(their["acc"], abs=1e-5)
        else:
            metric = get_task(task).metric
            assert mine[metric] == their[metric]


def test_gsm8k_generations_agree(both) -> None:
    ours, theirs, items = both
    aligned = align_harness_samples(theirs["samples"], "gsm8k", items["gsm8k"][0])
    for mine, their in zip(ours.samples["gsm8k"], aligned, strict=True):
        assert their["arguments"][0][0] == mine["context"]
        assert their["resps"][0][0] == mine["generation"]
        assert their["filtered_resps"][0] == mine["prediction"]
        assert their["exact_match"] == mine["exact_match"]


def test_scores_agree(both) -> None:
    ours, theirs, _ = both
    results = theirs["results"]
    keys = {"arc": "acc_norm,none", "hellaswag": "acc_norm,none", "mmlu": "acc,none", "truthfulqa": "acc,none",
            "winogrande": "acc,none", "gsm8k": "exact_match,strict-match"}
    for task, key in keys.items():
        assert ours.scores[task] == pytest.approx(results[harness_task_name(task)][key], abs=1e-6)
        assert ours.stderrs[task] == pytest.approx(results[harness_task_name(task)][key.replace(",", "_stderr,")],
                                                   abs=1e-6)


def test_the_lm_eval_backend_reports_the_harness_scores(toy, both, tmp_path) -> None:
    """``solar-repro eval --backend lm-eval`` on a JSONL folder: the harness's own run, one call per shot count,
    written as our results.json; its scores are ours (the item-by-item agreement above)."""
    tmp, items, _, _ = toy
    ours, _, _ = both
    assert main(["eval", "--model", str(tmp / "model"), "--data", str(tmp / "data"), "--backend", "lm-eval",
                 "--batch-size", "4", "--max-gen-toks", "16", "--device", "cpu", "--output-dir",
                 str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["scores"] == pytest.approx(ours.scores, abs=1e-6)
    assert results["h6"] == pytest.approx(ours.h6, abs=1e-6)
    assert results["n_items"] == dict.fromkeys(TASKS, 6)
    assert results["settings"]["backend"] == f"lm-eval {lm_eval.__version__}"
    assert results["settings"]["num_fewshot"] == {t: get_task(t).num_fewshot for t in TASKS}
    assert len(results["subscores"]["mmlu"]) == len({d["subject"] for d in items["mmlu"][0]})
    assert (tmp_path / "out" / "samples_gsm8k.jsonl").read_text().count("\n") == 6


def test_the_lm_eval_backend_runs_the_leaderboard_tasks_on_hub_data(toy, monkeypatch) -> None:
    """With ``data="hub"`` the harness's own leaderboard tasks run at the leaderboard's shots, its ``limit`` passed
    through (per MMLU subject there), and MMLU's subjects are collected through its category groups."""
    calls = []

    def fake_simple_evaluate(*, tasks, num_fewshot, limit, **kwargs):
        calls.append((tasks, num_fewshot, limit))
        out = {"results": {}, "group_subtasks": {"mmlu": ["mmlu_stem"], "mmlu_stem": ["mmlu_anatomy", "mmlu_law"]},
               "samples": {}}
        for name in tasks + (["mmlu_anatomy", "mmlu_law"] if "mmlu" in tasks else []):
            key = "exact_match,strict-match" if name == "gsm8k" else "acc,none"
            out["results"][name] = {key: 0.5, key.replace(",", "_stderr,"): 0.1, "acc_norm,none": 0.25,
                                    "acc_norm_stderr,none": "N/A"}
            out["samples"][name] = [{"doc_id": 0, "arguments": (("q", " a"),)}]
        return out

    monkeypatch.setattr(lm_eval, "simple_evaluate", fake_simple_evaluate)
    result = harness_evaluate(toy[0] / "model", TASKS, data="hub", limit=7)
    assert calls == [(["arc_challenge"], 25, 7), (["hellaswag"], 10, 7), (["mmlu", "winogrande", "gsm8k"], 5, 7),
                     (["truthfulqa_mc2"], 0, 7)]
    assert result.settings["harness_tasks"] == HUB_TASKS
    assert result.scores == {"arc": 0.25, "hellaswag": 0.25, "mmlu": 0.5, "truthfulqa": 0.5, "winogrande": 0.5,
                             "gsm8k": 0.5}
    assert math.isnan(result.stderrs["arc"]) and result.stderrs["mmlu"] == 0.1
    assert result.subscores == {"mmlu": {"mmlu_anatomy": 0.5, "mmlu_law": 0.5}}
    assert len(result.samples["mmlu"]) == 2 and result.samples["arc"] == [{"doc_id": 0, "arguments": [["q", " a"]]}]


def test_the_lm_eval_backend_refuses_a_pickled_checkpoint_before_any_work(tmp_path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "model" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(Exception, match="pickled weights"):
        harness_evaluate(tmp_path / "model", TASKS, data="hub")
