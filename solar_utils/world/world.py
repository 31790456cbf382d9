"""The built world: its texts and records by name, its held-out check, and its atomic writer."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from solar_utils.jsonl import dumps_jsonl
from solar_utils.world.config import WorldConfig
from solar_utils.world.corpus import build_corpus
from solar_utils.world.entities import Universe, sample_universe
from solar_utils.world.evalsets import TASKS, build_evalsets
from solar_utils.world.instructions import KINDS as INSTRUCTION_KINDS
from solar_utils.world.instructions import build_instructions
from solar_utils.world.mathseeds import build_math_seeds
from solar_utils.ngrams import NgramIndex, normalise
from solar_utils.world.overlap import overlap_text
from solar_utils.world.preferences import KINDS as PREFERENCE_KINDS
from solar_utils.world.preferences import build_preferences

CORPUS_SPLITS = ("train", "heldout")


def _valid(what: str, name: str, names: tuple[str, ...]) -> str:
    if name not in names:
        raise ValueError(f"unknown {what} {name!r}: choose from {', '.join(names)}")
    return name


def _record_text(record: dict[str, Any]) -> str:
    """All the strings of a training record, one per line (chat messages included)."""
    parts: list[str] = []
    for value in record.values():
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts += [m["content"] for m in value if isinstance(m, dict)]
    return "\n".join(parts)


class World:
    """Every text and record of one generated world (build it with :func:`build_world`)."""

    def __init__(self, config: WorldConfig, seed: int, universe: Universe, corpus: dict[str, list[str]],
                 evals: dict[str, list[dict]], fewshot: dict[str, list[dict]], instructions: dict[str, list[dict]],
                 preferences: dict[str, list[dict]], math_seeds: list[dict]) -> None:
        self.config, self.seed, self.universe = config, seed, universe
        self._corpus, self._evals, self._fewshot = corpus, evals, fewshot
        self._instructions, self._preferences, self._math_seeds = instructions, preferences, math_seeds
        self._indexes: dict[int, NgramIndex] = {}

    def __repr__(self) -> str:
        """What an evaluation records as its source (``results.json``): the world's seed, not a memory address."""
        return f"World(seed={self.seed})"

    def corpus(self, split: str) -> list[str]:
        """Pretraining documents: "train", or "heldout" (same distribution, no document of train)."""
        return list(self._corpus[_valid("corpus split", split, CORPUS_SPLITS)])

    def eval_items(self, task: str) -> list[dict]:
        return copy.deepcopy(self._evals[_valid("task", task, TASKS)])

    def fewshot_items(self, task: str) -> list[dict]:
        return copy.deepcopy(self._fewshot[_valid("task", task, TASKS)])

    def instructions(self, kind: str) -> list[dict]:
        return copy.deepcopy(self._instructions[_valid("instruction kind", kind, INSTRUCTION_KINDS)])

    def preferences(self, kind: str) -> list[dict]:
        return copy.deepcopy(self._preferences[_valid("preference kind", kind, PREFERENCE_KINDS)])

    def math_seeds(self) -> list[dict]:
        return copy.deepcopy(self._math_seeds)

    def training_texts(self) -> Iterator[str]:
        """Every text any stage trains on: train corpus, instructions, preferences, math seeds (e.g. to train a
        tokenizer that knows the instruction words too)."""
        yield from self._corpus["train"]
        for records in (*self._instructions.values(), *self._preferences.values(), self._math_seeds):
            yield from (_record_text(r) for r in records)

    def checked_texts(self) -> Iterator[str]:
        """Every text of the world outside its evaluation sets: :meth:`training_texts` and the held-out corpus,
        which notebook 07's contamination check reads too (a held-out block holding an item's text would also
        make held-out loss measure the benchmark)."""
        yield from self.training_texts()
        yield from self._corpus["heldout"]

    def index(self, n: int | None = None) -> NgramIndex:
        """The n-gram index of :meth:`checked_texts` (``n`` defaults to ``config.ngram_n``), built once."""
        n = n or self.config.ngram_n
        if n not in self._indexes:
            self._indexes[n] = NgramIndex(self.checked_texts(), n)
        return self._indexes[n]

    def heldout_report(self, n: int | None = None) -> dict[str, int]:
        """Per task, how many evaluation items share an n-gram (or, if shorter than n, their whole text) with
        any text of :meth:`checked_texts`. Zero everywhere is the held-out guarantee."""
        index = self.index(n)
        return {t: sum(index.contains(normalise(overlap_text(t, item))) for item in self._evals[t]) for t in TASKS}

    def files(self) -> dict[str, list[dict]]:
        """The JSONL files of :meth:`write`, by relative path."""
        out = {f"corpus/{s}.jsonl": [{"text": d} for d in self._corpus[s]] for s in CORPUS_SPLITS}
        for task in TASKS:
            out[f"eval/{task}.jsonl"] = self._evals[task]
            out[f"eval/{task}.fewshot.jsonl"] = self._fewshot[task]
        out |= {f"instructions/{k}.jsonl": v for k, v in self._instructions.items()}
        out |= {f"preferences/{k}.jsonl": v for k, v in self._preferences.items()}
        out["math/seeds.jsonl"] = self._math_seeds
        return out

    def write(self, directory: str | os.PathLike) -> Path:
        """Write every file, ``world.json`` and ``MANIFEST.json`` (sha256 and record count per file) into
        ``directory``, replacing it atomically: a failure leaves no partial folder. Returns the path."""
        from solar_utils.checkpoints import atomic_dir  # imports torch: only when writing

        manifest: dict[str, Any] = {"seed": self.seed, "config": asdict(self.config), "files": {}}
        with atomic_dir(directory, overwrite=True) as tmp:
            for rel, records in self.files().items():
                data = dumps_jsonl(records).encode()
                _write(tmp / rel, data)
                manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "records": len(records)}
            world = {"seed": self.seed, "config": asdict(self.config), **self.universe.to_json()}
            _write(tmp / "world.json", (json.dumps(world, indent=1, ensure_ascii=False) + "\n").encode())
            _write(tmp / "MANIFEST.json", (json.dumps(manifest, indent=1) + "\n").encode())
        return Path(directory)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_world(config: WorldConfig | None = None, seed: int = 1234) -> World:
    """Generate the whole world from ``seed``; evaluation items are drawn last and rejected if they overlap any
    other text of the world (corpus, held-out corpus, instructions, preferences, math seeds)."""
    cfg = config or WorldConfig()
    u = sample_universe(cfg, seed)
    train = build_corpus(u, cfg, seed, "train")
    corpus = {"train": train, "heldout": build_corpus(u, cfg, seed, "heldout", exclude=frozenset(train))}
    world = World(cfg, seed, u, corpus, {}, {}, build_instructions(u, cfg, seed), build_preferences(u, cfg, seed),
                  build_math_seeds(cfg, seed))
    world._evals, world._fewshot = build_evalsets(u, cfg, seed, world.index())
    return world
