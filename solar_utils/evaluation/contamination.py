"""Benchmark contamination: which evaluation items share a word n-gram with the training text.

The matching is the project's one n-gram index, :class:`solar_utils.ngrams.NgramIndex` (normalisation as lm-eval's
decontamination ``Janitor``: lower-case, punctuation removed, whitespace words). An item's text is everything a
leaked copy would contain (question, choices or answer; see ``Task.overlap_text``). As in the GPT-3 paper's
check, an item shorter than ``n`` words counts as contaminated if its whole word sequence occurs in the training
text; n-grams never span two training texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from solar_utils.evaluation.tasks import get_task
from solar_utils.ngrams import NgramIndex, normalise


def ngram_overlap(train_texts: Iterable[str], eval_items: Mapping[str, Sequence[dict]],
                  n: int = 13) -> dict[str, dict[str, float | int]]:
    """Per task: ``items``, ``contaminated`` (items with an n-gram also in ``train_texts``) and ``fraction``.

    Every item is checked (a malformed one raises) before the training text is read; the training text is read
    once, into the index.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    queries: list[tuple[tuple[str, int], list[str]]] = []
    for task_name, items in eval_items.items():
        task = get_task(task_name)
        for i, doc in enumerate(items):
            task.check(doc, f"item {i}")
            queries.append(((task.name, i), normalise(task.overlap_text(task.process(doc)))))
    index = NgramIndex(train_texts, n)
    hit = {owner for owner, words in queries if index.contains(words)}
    report: dict[str, dict[str, float | int]] = {}
    for task_name, items in eval_items.items():
        name = get_task(task_name).name
        k = sum(1 for owner in hit if owner[0] == name)
        report[name] = {"items": len(items), "contaminated": k, "fraction": k / len(items) if items else 0.0}
    return report
