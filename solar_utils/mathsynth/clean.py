"""Cleaning the verified generations: exact and near-duplicate removal, then decontamination.

Text is compared after :func:`solar_utils.ngrams.normalise` (lower-case words, no punctuation). Near-duplicates
are pairs whose word-shingle sets have a Jaccard similarity at or above a threshold; the first one (in input
order) is kept. Decontamination asks the project's one n-gram matcher, :class:`solar_utils.ngrams.NgramIndex`,
whether a record shares an n-gram with any evaluation item (rendered by
:func:`solar_utils.world.overlap.overlap_text`); an item shorter than n words counts when all of it occurs.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from solar_utils.mathsynth.records import Generation, Removed
from solar_utils.ngrams import NgramIndex, normalise
from solar_utils.world.overlap import overlap_text

EXACT, NEAR = "exact duplicate", "near duplicate"


def shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """The set of word n-grams of the normalised ``text`` (the whole text if shorter than n)."""
    words = normalise(text)
    return frozenset(tuple(words[i: i + n]) for i in range(max(1, len(words) - n + 1)))


def deduplicate(generations: Sequence[Generation], n: int = 3,
                threshold: float = 0.8) -> tuple[list[Generation], list[Removed]]:
    """Drop exact duplicates (same normalised text) and near-duplicates (shingle Jaccard >= ``threshold``)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    kept: list[Generation] = []
    kept_sets: list[frozenset] = []
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    exact: dict[tuple[str, ...], int] = {}
    removed: list[Removed] = []
    for g in generations:
        key = tuple(normalise(g.text))
        if key in exact:
            removed.append(Removed(g, EXACT, _describe(kept[exact[key]])))
            continue
        mine = shingles(g.text, n)
        shared = Counter(j for s in mine for j in postings.get(s, ()))  # |mine & kept j| for every kept j
        match = next((j for j, k in shared.most_common()
                      if k / (len(mine) + len(kept_sets[j]) - k) >= threshold), None)
        if match is not None:
            removed.append(Removed(g, NEAR, _describe(kept[match])))
            continue
        exact[key] = len(kept)
        for s in mine:
            postings[s].append(len(kept))
        kept.append(g)
        kept_sets.append(mine)
    return kept, removed


def _describe(g: Generation) -> str:
    return f"duplicates {g.seed_id}/{g.method}"


class Decontaminator:
    """The evaluation items of a run, indexed for "does this text share an n-gram with any of them?".

    Items of at least ``n`` words are indexed by their n-grams; shorter ones by their whole word sequence (one
    index per length), so that a short item leaked verbatim is caught too.
    """

    def __init__(self, eval_items: Mapping[str, Sequence[dict]], n: int = 13) -> None:
        self.n = n
        texts = {task: [overlap_text(task, item) for item in items] for task, items in eval_items.items()}
        self.tasks = {task: self._indexes(task_texts) for task, task_texts in texts.items()}
        self.combined = self._indexes([text for task_texts in texts.values() for text in task_texts])

    def _indexes(self, texts: list[str]) -> list[NgramIndex]:
        by_length: dict[int, list[str]] = defaultdict(list)
        for text in texts:
            by_length[min(len(normalise(text)), self.n)].append(text)
        return [NgramIndex(group, length) for length, group in sorted(by_length.items()) if length > 0]

    def match(self, text: str) -> str | None:
        """The first task one of whose items ``text`` overlaps, or None (one combined lookup when clean)."""
        words = normalise(text)
        if not _hit(self.combined, words):
            return None
        return next(task for task, indexes in self.tasks.items() if _hit(indexes, words))


def _hit(indexes: list[NgramIndex], words: list[str]) -> bool:
    return any(len(words) >= index.n and index.contains(words) for index in indexes)


def decontaminate(generations: Sequence[Generation],
                  decontaminator: Decontaminator) -> tuple[list[Generation], list[Removed]]:
    """Drop every generation that overlaps an evaluation item; the reason names the task."""
    kept, removed = [], []
    for g in generations:
        task = decontaminator.match(g.text)
        if task is None:
            kept.append(g)
        else:
            removed.append(Removed(g, f"overlaps {task}", f"{decontaminator.n}-gram shared with an eval item"))
    return kept, removed


def load_eval_sets(source: str, world_dir: Path | None = None,
                   hub_root: str | os.PathLike | None = None) -> dict[str, list[dict]]:
    """The run's evaluation items per task: the world's ``eval/*.jsonl`` (``source: world``) or the leaderboard's
    datasets on the hub (``hub``; from ``hub_root`` when it names a local copy, as ``eval.hub_root``), through
    :mod:`solar_utils.evaluation.sources`."""
    from solar_utils.evaluation.sources import HubSource, JsonlSource
    from solar_utils.world import TASKS

    if source == "world" and world_dir is None:
        raise ValueError("mathsynth.source is 'world': pass the world folder (stage.world_dir)")
    items = JsonlSource(Path(world_dir) / "eval") if source == "world" else HubSource(root=hub_root)
    return {task: items.eval_items(task) for task in TASKS}
