"""H6 evaluation faithful to the Open LLM Leaderboard v1 (lm-evaluation-harness settings), fast on CPU and GPU.

``evaluate(model, tokenizer, source=...)`` scores ARC, HellaSwag, MMLU, TruthfulQA (mc2), Winogrande and GSM8K;
``score_models`` is every stage's way in (the preset's settings; with ``cache_dir`` no model is scored twice on a
task, see ``cache``); ``paired_difference`` compares two models on the same items; ``export_harness_tasks`` writes
the same items as lm-eval tasks; ``ngram_overlap`` checks contamination.
Every deliberate difference from the harness is listed in ``DIFFERENCES`` (and where it happens, in the
docstrings of ``scoring``, ``metrics``, ``evaluator`` and ``harness_export``).
"""

from solar_utils.evaluation.contamination import ngram_overlap
from solar_utils.evaluation.evaluator import EvalResult, evaluate, preset_source, score_models
from solar_utils.evaluation.harness_export import export_harness_tasks, harness_task_name
from solar_utils.evaluation.paired import Difference, paired_difference, paired_mean_difference
from solar_utils.evaluation.scoring import Scorer
from solar_utils.evaluation.sources import (HubSource, JsonlSource, MemorySource, dump_source, resolve_source,
                                           world_source)
from solar_utils.evaluation.tasks import TASKS, ItemError

DIFFERENCES = (
    "Requests of one item share their common token prefix through a KV cache (the harness runs each request "
    "in full, sharing only single-token continuations); log-likelihoods agree up to float rounding.",
    "mc2 exponentiates max-shifted log-likelihoods (no underflow to 0/0 for very unlikely answers).",
    "A standard error over fewer than two items is NaN (null in results.json) where the harness divides by zero.",
    "limit takes N items of a task; for MMLU they are taken round-robin over its subjects (N/57 each on the real "
    "set), where the harness takes N per subject.",
    "max_gen_toks is a parameter (256 in the harness) so that short-context models can run GSM8K.",
)

__all__ = ["DIFFERENCES", "TASKS", "Difference", "EvalResult", "HubSource", "ItemError", "JsonlSource",
           "MemorySource", "Scorer", "dump_source", "evaluate", "export_harness_tasks", "harness_task_name",
           "ngram_overlap", "paired_difference", "paired_mean_difference", "preset_source", "resolve_source",
           "score_models", "world_source"]
