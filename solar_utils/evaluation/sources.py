"""Where evaluation items come from. Every source yields items in the real datasets' schemas.

A source is anything with ``eval_items(task) -> list[dict]`` and ``fewshot_items(task) -> list[dict]``
(the tiny world's ``World`` already is one). Provided here:

- :class:`MemorySource`: ``{task: (eval_items, fewshot_items)}`` held in memory.
- :class:`JsonlSource`: ``<dir>/<task>.jsonl`` and ``<dir>/<task>.fewshot.jsonl`` (what the tiny world writes
  under ``eval/``; a missing few-shot file means an empty pool).
- :func:`world_source`: builds the tiny world in memory (``solar_utils.world``, imported lazily).
- :class:`HubSource`: the leaderboard's datasets through ``datasets.load_dataset`` (needs the network, or a local
  copy of the hub under ``root``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from solar_utils.evaluation.tasks import TASKS, get_task
from solar_utils.jsonl import JsonlError, read_jsonl, write_jsonl


@runtime_checkable
class Source(Protocol):
    def eval_items(self, task: str) -> list[dict]: ...

    def fewshot_items(self, task: str) -> list[dict]: ...


SourceLike = Source | str | os.PathLike


class MemorySource:
    """Items held in memory: ``{task: (eval_items, fewshot_items)}``."""

    def __init__(self, items: dict[str, tuple[list[dict], list[dict]]]) -> None:
        self.items = {get_task(task).name: pair for task, pair in items.items()}

    def eval_items(self, task: str) -> list[dict]:
        return self._pair(task)[0]

    def fewshot_items(self, task: str) -> list[dict]:
        return self._pair(task)[1]

    def _pair(self, task: str) -> tuple[list[dict], list[dict]]:
        if get_task(task).name not in self.items:
            raise ValueError(f"{task}: this source holds no items for it")
        return self.items[task]

    def __repr__(self) -> str:
        return f"MemorySource({', '.join(self.items)})"


class JsonlSource:
    """Items from ``<root>/<task>.jsonl`` (evaluated) and ``<root>/<task>.fewshot.jsonl`` (few-shot pool)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"evaluation data directory {self.root} does not exist")

    def eval_items(self, task: str) -> list[dict]:
        path = self.root / f"{get_task(task).name}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{task}: no evaluation items at {path}")
        return _read_items(path, task)

    def fewshot_items(self, task: str) -> list[dict]:
        path = self.root / f"{get_task(task).name}.fewshot.jsonl"
        return _read_items(path, task) if path.is_file() else []

    def __repr__(self) -> str:
        return f"JsonlSource({str(self.root)!r})"


@dataclass(frozen=True)
class HubSpec:
    """A leaderboard dataset: ``load_dataset(path, name, split=...)`` for evaluation and few-shot splits."""

    path: str
    name: str | None
    eval_split: str
    fewshot_split: str | None


HUB_DATASETS: dict[str, HubSpec] = {
    "arc": HubSpec("allenai/ai2_arc", "ARC-Challenge", "test", "train"),
    "hellaswag": HubSpec("Rowan/hellaswag", None, "validation", "train"),
    "mmlu": HubSpec("cais/mmlu", "all", "test", "dev"),
    "truthfulqa": HubSpec("truthfulqa/truthful_qa", "multiple_choice", "validation", None),
    "winogrande": HubSpec("allenai/winogrande", "winogrande_xl", "validation", "train"),
    "gsm8k": HubSpec("openai/gsm8k", "main", "test", "train"),
}


@dataclass
class HubSource:
    """The real datasets (needs the network); ``loader`` defaults to ``datasets.load_dataset``. With ``root`` (a
    folder of local copies under the datasets' hub ids) each dataset loads from ``<root>/<hub id>`` instead."""

    loader: Callable[..., Iterable[dict]] | None = None
    root: str | os.PathLike | None = None
    _cache: dict[tuple[str, str], list[dict]] = field(default_factory=dict, repr=False)

    def eval_items(self, task: str) -> list[dict]:
        spec = HUB_DATASETS[get_task(task).name]
        return self._load(spec, spec.eval_split)

    def fewshot_items(self, task: str) -> list[dict]:
        spec = HUB_DATASETS[get_task(task).name]
        return self._load(spec, spec.fewshot_split) if spec.fewshot_split else []

    def _load(self, spec: HubSpec, split: str) -> list[dict]:
        key = (spec.path, split)
        if key not in self._cache:
            loader = self.loader
            if loader is None:
                from datasets import load_dataset as loader
            path = spec.path if self.root is None else _local_copy(Path(self.root), spec.path)
            self._cache[key] = [dict(row) for row in loader(path, spec.name, split=split)]
        return self._cache[key]


def _local_copy(root: Path, hub_id: str) -> str:
    """``<root>/<hub_id>``, or a clear error when the local copy of the hub lacks that dataset."""
    path = root / hub_id
    if not path.is_dir():
        raise FileNotFoundError(f"no local copy of the hub dataset {hub_id} at {path}: download it there "
                                f"(huggingface-cli download {hub_id} --repo-type dataset --local-dir {path}) "
                                "or unset eval.hub_root to load it from the hub")
    return str(path)


def world_source(seed: int, config: Any = None) -> Source:
    """The tiny world built in memory: ``solar_utils.world.build_world(config or WorldConfig(), seed)``."""
    from solar_utils.world import build_world

    if config is None:
        from solar_utils.world import WorldConfig

        config = WorldConfig()
    return build_world(config, seed)


def resolve_source(source: SourceLike) -> Source:
    """A path means a :class:`JsonlSource`; ``"hub"`` the real datasets; anything else must be a Source."""
    if isinstance(source, str) and source == "hub":
        return HubSource()
    if isinstance(source, str | os.PathLike):
        return JsonlSource(source)
    if not isinstance(source, Source):
        raise TypeError(f"source must be a directory, 'hub' or an object with eval_items/fewshot_items, "
                        f"got {type(source).__name__}")
    return source


def _read_items(path: Path, task: str) -> list[dict]:
    """The items of one task file; a bad line's error names the task, the file and the line."""
    try:
        return read_jsonl(path)
    except JsonlError as err:
        raise JsonlError(f"{task}: {err}") from err


def dump_source(source: SourceLike, out_dir: str | os.PathLike, tasks: Iterable[str] = TASKS) -> Path:
    """Write a source's items as a JSONL source directory (e.g. the in-memory world, for lm-eval export)."""
    src, out = resolve_source(source), Path(out_dir)
    for task in tasks:
        name = get_task(task).name
        write_jsonl(out / f"{name}.jsonl", src.eval_items(name))
        write_jsonl(out / f"{name}.fewshot.jsonl", src.fewshot_items(name))
    return out
