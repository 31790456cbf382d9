"""The H6 benchmark suite (Open LLM Leaderboard v1) by name: the one spelling of its six tasks.

In the SOLAR paper's Table 2 column order (ARC, HellaSwag, MMLU, TruthfulQA, Winogrande, GSM8K); H6 is their plain
mean. H4, the sDPO paper's average, is the first four. This module imports nothing, so the tiny world, the
evaluator (:data:`solar_utils.evaluation.tasks.TASKS` is this tuple) and the reports all use it.
"""

TASKS: tuple[str, ...] = ("arc", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k")
H4_TASKS: tuple[str, ...] = TASKS[:4]
