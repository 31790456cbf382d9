"""Benchmark contamination: which evaluation items share a word n-gram with the training text.

Normalisation follows lm-eval's decontamination ``Janitor``: lower-case, punctuation removed, whitespace words.
An item's text is everything a leaked copy would contain (question, choices or answer; see ``Task.overlap_text``).
As in the GPT-3 paper's check, an item shorter than ``n`` words counts as contaminated if its whole word
sequence occurs in the training text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from solar_utils.evaluation.tasks import get_task

_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str) -> list[str]:
    return _PUNCT.sub("", text.lower()).split()


def ngram_overlap(train_texts: Iterable[str], eval_items: Mapping[str, Sequence[dict]],
                  n: int = 13) -> dict[str, dict[str, float | int]]:
    """Per task: ``items``, ``contaminated`` (items with an n-gram also in ``train_texts``) and ``fraction``.

    The training text is streamed once; only the evaluation n-grams are held in memory.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    owners: dict[tuple[str, ...], set[tuple[str, int]]] = {}
    for task_name, items in eval_items.items():
        task = get_task(task_name)
        for i, doc in enumerate(items):
            task.check(doc, f"item {i}")
            words = normalise(task.overlap_text(task.process(doc)))
            if not words:
                continue
            size = min(n, len(words))
            for k in range(len(words) - size + 1):
                owners.setdefault(tuple(words[k: k + size]), set()).add((task.name, i))
    sizes = sorted({len(gram) for gram in owners})
    hit: set[tuple[str, int]] = set()
    for text in train_texts:
        words = normalise(text)
        for size in sizes:
            for k in range(len(words) - size + 1):
                found = owners.get(tuple(words[k: k + size]))
                if found:
                    hit |= found
    report: dict[str, dict[str, float | int]] = {}
    for task_name, items in eval_items.items():
        name = get_task(task_name).name
        k = sum(1 for owner in hit if owner[0] == name)
        report[name] = {"items": len(items), "contaminated": k, "fraction": k / len(items) if items else 0.0}
    return report
