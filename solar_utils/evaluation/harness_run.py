"""Score a checkpoint with lm-evaluation-harness itself: ``solar-repro eval --backend lm-eval``.

Our evaluator agrees with the harness item by item (``tests/test_evaluation_lm_eval.py``); this backend is for users
who want the harness's own numbers. With ``--data hub`` it runs the harness's leaderboard tasks (``arc_challenge``,
``hellaswag``, ``mmlu``, ``truthfulqa_mc2``, ``winogrande``, ``gsm8k``); with a JSONL folder it runs our tasks
exported by :mod:`solar_utils.evaluation.harness_export`. The harness takes one shot count per call, so tasks are
run in one ``lm_eval.simple_evaluate`` call per distinct count (the leaderboard's 25/10/5/0/5/5 by default). Its
``limit`` counts per task, and MMLU's subjects are tasks: N items per subject. The result is an
:class:`~solar_utils.evaluation.evaluator.EvalResult` holding the harness's scores, standard errors, per-subject
MMLU scores and logged samples, written as ``results.json`` like our backend's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from solar_utils.checkpoints import check_shapes, checkpoint_files, read_config
from solar_utils.evaluation.evaluator import EvalResult
from solar_utils.evaluation.harness_export import export_harness_tasks, harness_task_name
from solar_utils.evaluation.scoring import MAX_GEN_TOKS
from solar_utils.evaluation.tasks import get_task

#: Our task → the harness's leaderboard task and the metric key its results hold (Open LLM Leaderboard v1).
HUB_TASKS: dict[str, str] = {"arc": "arc_challenge", "hellaswag": "hellaswag", "mmlu": "mmlu",
                             "truthfulqa": "truthfulqa_mc2", "winogrande": "winogrande", "gsm8k": "gsm8k"}
METRIC_KEYS: dict[str, str] = {"arc": "acc_norm,none", "hellaswag": "acc_norm,none", "mmlu": "acc,none",
                               "truthfulqa": "acc,none", "winogrande": "acc,none",
                               "gsm8k": "exact_match,strict-match"}


def harness_evaluate(model_dir: str | os.PathLike, tasks: Sequence[str], *, data: str | os.PathLike,
                     num_fewshot: Mapping[str, int] | None = None, limit: int | None = None, batch_size: int = 16,
                     seed: int = 1234, device: str = "cpu", max_gen_toks: int = MAX_GEN_TOKS) -> EvalResult:
    """Run lm-evaluation-harness on ``model_dir`` (a local safetensors checkpoint, validated before any work) for
    ``tasks`` on ``data`` (``"hub"`` or a JSONL task folder); ``seed`` is the harness's ``fewshot_random_seed``."""
    lm_eval = _import_harness()
    from lm_eval.tasks import TaskManager

    model_dir = Path(model_dir)
    check_shapes(model_dir, read_config(model_dir), checkpoint_files(model_dir))
    names = [get_task(t).name for t in tasks]
    shots = {t: (num_fewshot or {}).get(t, get_task(t).num_fewshot) for t in names}
    with tempfile.TemporaryDirectory(prefix="solar_harness_") as tmp:
        if str(data) == "hub":
            harness_names, manager = {t: HUB_TASKS[t] for t in names}, TaskManager()
        else:
            export_harness_tasks(data, tmp, names, num_fewshot=shots, max_gen_toks=max_gen_toks)
            harness_names, manager = {t: harness_task_name(t) for t in names}, TaskManager(include_path=tmp)
        outputs = {}
        for k in sorted(set(shots.values()), reverse=True):
            group = [t for t in names if shots[t] == k]
            out = lm_eval.simple_evaluate(
                model="hf", model_args=f"pretrained={model_dir},dtype=auto", device=device, batch_size=batch_size,
                tasks=[harness_names[t] for t in group], num_fewshot=k, limit=limit, task_manager=manager,
                log_samples=True, fewshot_random_seed=seed)
            outputs.update({t: out for t in group})
    result = EvalResult({}, {}, {}, settings={
        "backend": f"lm-eval {lm_eval.__version__}", "num_fewshot": shots, "limit": dict.fromkeys(names, limit),
        "seed": seed, "batch_size": batch_size, "source": str(data), "model": str(model_dir),
        "harness_tasks": harness_names})
    for task in names:
        _collect(result, task, harness_names[task], outputs[task])
    return result


def _collect(result: EvalResult, task: str, name: str, out: Mapping[str, Any]) -> None:
    """One task's score, standard error, samples (and MMLU's per-subject scores) from a harness output."""
    key = METRIC_KEYS[task]
    scores = out["results"][name]
    result.scores[task] = scores[key]
    stderr = scores.get(key.replace(",", "_stderr,"))
    result.stderrs[task] = float("nan") if stderr in (None, "N/A") else stderr
    leaves = _leaves(name, out.get("group_subtasks", {}))
    result.samples[task] = [_plain(s) for leaf in leaves for s in out["samples"].get(leaf, [])]
    if len(leaves) > 1:
        result.subscores[task] = {leaf: out["results"][leaf][key] for leaf in leaves if leaf in out["results"]}


def _leaves(name: str, subtasks: Mapping[str, Sequence[str]]) -> list[str]:
    """The leaf tasks under a harness task or group (MMLU: its subjects, through the category groups)."""
    if name not in subtasks:
        return [name]
    return [leaf for child in subtasks[name] for leaf in _leaves(child, subtasks)]


def _plain(sample: Any) -> Any:
    """A harness sample as plain JSON (its records may hold tuples and other non-JSON values)."""
    return json.loads(json.dumps(sample, default=str))


def _import_harness() -> Any:
    try:
        import lm_eval
    except ImportError as err:
        raise RuntimeError("--backend lm-eval needs lm-evaluation-harness: pip install 'lm-eval>=0.4.13,<0.5' "
                           "(or the project's test extra), or use the default --backend solar.") from err
    return lm_eval
