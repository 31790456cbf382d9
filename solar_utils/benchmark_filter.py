"""The paper's filter of benchmark-related training data, applied to every instruction and preference record a stage
reads (SOLAR paper Sec. 3: the benchmark-related tasks are filtered out of the training data).

A record is dropped when its text shares a word n-gram (``eval.contamination_ngram``, 13 by default) with any of
the run's evaluation items; an item shorter than n words counts when all of it occurs. The matcher is notebook 03's
:class:`~solar_utils.mathsynth.clean.Decontaminator`; the items are the preset's (``eval.source``, from
``eval.hub_root`` when set). Hub sources are filtered while they stream, so a source's cap counts kept rows.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from solar_utils.config import Preset
from solar_utils.mathsynth.clean import Decontaminator, load_eval_sets


@dataclass
class BenchmarkFilter:
    """``keep(record)``: False for a record sharing an n-gram with an evaluation item; ``dropped`` counts the
    dropped records per task they overlap."""

    decontaminator: Decontaminator
    dropped: Counter[str] = field(default_factory=Counter)

    @classmethod
    def for_preset(cls, preset: Preset, world_dir: str | os.PathLike | None) -> BenchmarkFilter:
        """The filter for a run of ``preset``: its evaluation items, its ``eval.contamination_ngram``."""
        items = load_eval_sets(preset.eval.source, world_dir, hub_root=preset.eval.hub_root)
        return cls(Decontaminator(items, preset.eval.contamination_ngram))

    def __call__(self, record: Any) -> bool:
        task = self.decontaminator.match("\n".join(_strings(record)))
        if task is not None:
            self.dropped[task] += 1
        return task is None


def _strings(value: Any) -> Iterator[str]:
    """Every string in a record (its fields, chat turns and their contents), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
