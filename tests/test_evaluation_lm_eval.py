"""Agreement with lm-evaluation-harness: its HFLM on our exported tasks vs our evaluator, item by item.

The tiny random Llama has 256 positions, so the 25-shot ARC and 10-shot HellaSwag contexts are left-truncated
in both (and GSM8K generates at most 16 tokens, as the exported YAML says).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from solar_utils.evaluation import TASKS, MemorySource, dump_source, evaluate, export_harness_tasks, harness_task_name
from solar_utils.evaluation.harness_export import align_harness_samples
from solar_utils.evaluation.tasks import get_task
from solar_utils.evaluation.toy import toy_setup

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'lm-eval==0.4.13')")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        return _run_both(tmp_path_factory.mktemp("lm_eval"))


def _run_both(tmp: Path) -> tuple:
    items, tokenizer, model = toy_setup(seed=1, n_eval=6, max_positions=256)
    model.save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    dump_source(MemorySource(items), tmp / "data")
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
