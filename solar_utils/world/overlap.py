"""What of an evaluation item a leaked copy would contain (question and every choice, or the worked answer):
the text the held-out check (:mod:`solar_utils.ngrams`) looks for in training data."""

from __future__ import annotations


def overlap_text(task: str, item: dict) -> str:
    """Everything of ``item`` that a leaked copy would contain, as the evaluation harness renders it."""
    if task == "arc":
        return " ".join([f"Question: {item['question']}\nAnswer:", *item["choices"]["text"]])
    if task == "hellaswag":
        return " ".join([f"{item['activity_label']}: {item['ctx_a']} {item['ctx_b']}", *item["endings"]])
    if task == "mmlu":
        return " ".join([item["question"], *item["choices"]])
    if task == "truthfulqa":
        return " ".join([item["question"], *item["mc2_targets"]["choices"]])
    if task == "winogrande":
        return " ".join([item["sentence"], item["option1"], item["option2"]])
    if task == "gsm8k":
        return f"{item['question']} {item['answer']}"
    raise ValueError(f"unknown task {task!r}")
