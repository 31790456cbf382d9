"""Text for language modelling: documents from the tiny world's files or a hub dataset, packed into blocks."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from solar_utils.config import TextSource


def load_texts(source: TextSource, world_dir: Path | None = None) -> list[str]:
    """The documents of ``source``: ``world`` reads ``<world_dir>/corpus/<split>.jsonl``; ``hub`` streams a dataset."""
    if source.kind == "world":
        if world_dir is None:
            raise ValueError("this text source is the tiny world: pass world_dir (written by notebook 00)")
        path = Path(world_dir) / "corpus" / f"{source.split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no corpus split {source.split!r} at {path}: run notebook 00 first")
        docs = [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    else:
        import datasets

        rows = datasets.load_dataset(source.path, source.name, split=source.split, streaming=True)
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
