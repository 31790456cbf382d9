"""The data layer: where a configured source's data is, and text for language modelling.

Every source the presets configure is one of three kinds, resolved here and nowhere else:

- ``world``: a file of the tiny world, ``<world_dir>/<path>`` (notebook 00 writes the world);
- ``stage``: an earlier stage's output, ``<run_dir>/<path>``;
- ``hub``: a dataset through ``datasets.load_dataset`` (or an injected ``loader`` with the same call, e.g. in tests).

:func:`source_file` and :func:`hub_dataset` are that resolver (:func:`read_world_file` reads a world file with
it); :func:`load_texts` reads the documents of a ``TextSource``, :func:`solar_utils.records.read_records` the
records of a ``MixtureSource``, :mod:`solar_utils.mathsynth.seeds` and the merging study the math seeds.
:func:`pack_blocks` cuts documents into training blocks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from solar_utils.config import TextSource
from solar_utils.jsonl import read_jsonl

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Loader = Callable[..., Iterable[dict[str, Any]]]
"""``datasets.load_dataset``'s call: ``loader(path, name, split=..., [streaming=True])``."""


def source_file(kind: str, path: str | os.PathLike, world_dir: str | os.PathLike | None = None,
                run_dir: str | os.PathLike | None = None, what: str = "this source") -> Path:
    """The local file of a ``world`` source (``<world_dir>/<path>``) or a ``stage`` source (``<run_dir>/<path>``).

    It need not exist (callers say which notebook writes it). A missing ``world_dir``/``run_dir`` is an error
    naming ``what``.
    """
    if kind == "world":
        if world_dir is None:
            raise ValueError(f"{what} is in the tiny world: pass world_dir (written by notebook 00)")
        return Path(world_dir) / path
    if kind == "stage":
        if run_dir is None:
            raise ValueError(f"{what} is an earlier stage's output: pass run_dir")
        return Path(run_dir) / path
    raise ValueError(f"{what}: a {kind!r} source has no local file (kinds with files: world, stage)")


def read_world_file(world_dir: str | os.PathLike | None, path: str | os.PathLike, what: str) -> list[Any]:
    """The records of the tiny world's JSONL file ``<world_dir>/<path>``; ``what`` names it in errors (a missing
    file says which notebook writes it)."""
    file = source_file("world", path, world_dir, what=what)
    if not file.is_file():
        raise FileNotFoundError(f"no {what} at {file}: run notebook 00 first (notebooks/00_base_model.ipynb writes "
                                "the world)")
    return read_jsonl(file)


def hub_dataset(path: str, name: str | None = None, split: str = "train", *, streaming: bool = False,
                loader: Loader | None = None) -> Iterable[dict[str, Any]]:
    """The rows of a hub dataset: ``loader(path, name, split=split)`` (``streaming=True`` added when streaming);
    ``loader`` defaults to ``datasets.load_dataset`` (imported only then)."""
    if loader is None:
        import datasets

        loader = datasets.load_dataset
    return loader(path, name, split=split, streaming=True) if streaming else loader(path, name, split=split)


def load_texts(source: TextSource, world_dir: Path | None = None, loader: Loader | None = None) -> list[str]:
    """The documents of ``source``: ``world`` reads ``<world_dir>/corpus/<split>.jsonl``; ``hub`` streams a dataset."""
    if source.kind == "world":
        rows = read_world_file(world_dir, Path("corpus") / f"{source.split}.jsonl", f"corpus split {source.split!r}")
        docs: Iterable[str] = [row["text"] for row in rows]
    else:
        rows = hub_dataset(source.path, source.name, source.split, streaming=True, loader=loader)
        docs = (row[source.column] for row in rows if row[source.column].strip())
    return list(islice(docs, source.max_docs))


def pack_blocks(tokenizer: PreTrainedTokenizerBase, texts: list[str], seq_len: int,
                max_blocks: int | None = None) -> torch.Tensor:
    """Tokenize documents, join them with EOS and cut into ``[n, seq_len]`` blocks (the remainder is dropped)."""
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2, got {seq_len}")
    ids: list[int] = []
    needed = None if max_blocks is None else max_blocks * seq_len
    for encoded in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        ids.append(tokenizer.eos_token_id)
        if needed is not None and len(ids) >= needed:
            break
    n = len(ids) // seq_len if max_blocks is None else min(max_blocks, len(ids) // seq_len)
    if n == 0:
        raise ValueError(f"{len(texts)} documents give {len(ids)} tokens, fewer than one block of {seq_len}")
    return torch.tensor(ids[: n * seq_len], dtype=torch.long).view(n, seq_len)
