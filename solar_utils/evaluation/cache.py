"""A score cache: each (model weights, task, scoring settings) is scored once per run folder.

``score_models(..., cache_dir=<run>/scores)`` consults it, so the notebooks of one run re-use each other's
scores (notebook 07 re-scoring notebook 02's base model, say) instead of running the model again. One JSON file
per key holds one task's result: per-item samples, score, standard error, subscores and the settings used.

The key (:func:`model_fields` once per model, then :func:`task_key` per task) holds everything that changes a
task's numbers:

- ``weights``: :func:`solar_utils.checkpoints.weights_sha256` (a model in memory and the checkpoint folder saved
  from it hash alike); ``config``: sha256 of the model config without its path, architectures and dtype (the
  weights hash has the dtypes); ``tokenizer``: :func:`tokenizer_sha256`; ``max_length``: the context the scorer
  truncates to (from the config, as ``Scorer`` resolves it);
- ``task``, ``num_fewshot``, ``limit`` (``None``: all items), ``seed`` (few-shot sampling);
- ``max_gen_toks`` for generative tasks (GSM8K; ``None`` for log-likelihood tasks, which never generate);
- ``source``: :func:`source_sha256`, the bytes of the task's eval and few-shot files, not their path;
- ``format``: :data:`FORMAT`, bumped when prompts or scoring change what a key's numbers are.

``batch_size`` and ``share_prefix`` are not in it: they change log-likelihoods only by float rounding (~1e-6;
predictions are the same), so a run that changes its batch size re-uses scores computed at the old one. Nor is
the device or attention implementation (the same kind of rounding).

A file is trusted only when it parses, its stored key equals the key asked for and its checksum matches its
payload; anything else is ignored with a warning (and rescored, then rewritten, by ``score_models``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solar_utils.checkpoints import weights_sha256, write_text_atomic
from solar_utils.evaluation.scoring import model_max_length
from solar_utils.evaluation.sources import HubSource, JsonlSource, Source
from solar_utils.evaluation.tasks import get_task

FORMAT = 1
_CONFIG_IGNORED = {"architectures", "dtype", "torch_dtype", "transformers_version"}  # and "_private" keys


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def tokenizer_sha256(tokenizer: Any) -> str:
    """sha256 of what tokenises and decodes: the backend's vocabulary, merges, normalisation, pre- and
    post-processing and added tokens (without its transient truncation/padding state; the whole vocabulary
    for slow tokenizers), plus the special tokens, chat template and decoding options. The same tokenizer loaded
    from two folders hashes alike."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None), spec.pop("padding", None)
    else:
        spec = {"class": type(tokenizer).__name__, "vocab": sorted(tokenizer.get_vocab().items())}
    return _sha256({"backend": spec, "special": dict(tokenizer.special_tokens_map),
                    "chat_template": getattr(tokenizer, "chat_template", None),
                    "add_bos_token": getattr(tokenizer, "add_bos_token", None),
                    "add_eos_token": getattr(tokenizer, "add_eos_token", None),
                    "clean_up_tokenization_spaces": getattr(tokenizer, "clean_up_tokenization_spaces", None)})


def model_fields(model_or_dir: Any, tokenizer: Any) -> dict[str, Any]:
    """The model's part of the key, from a model in memory or a checkpoint folder (whose weights and config are
    read, never loaded as a model)."""
    if isinstance(model_or_dir, str | os.PathLike):
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_or_dir)
    else:
        config = model_or_dir.config
    config_fields = {k: v for k, v in config.to_dict().items() if not k.startswith("_") and k not in _CONFIG_IGNORED}
    return {"weights": weights_sha256(model_or_dir), "config": _sha256(config_fields),
            "tokenizer": tokenizer_sha256(tokenizer),
            "max_length": model_max_length(types.SimpleNamespace(config=config), tokenizer)}


def source_sha256(source: Source, task: str) -> str:
    """The identity of a task's items: ``"hub"`` (``"hub copy at <root>"`` for a local copy); for a JSONL folder
    the sha256 of the eval and few-shot files' bytes (a missing file hashes as absent); for any other source the
    sha256 of its items as JSON."""
    name = get_task(task).name
    if isinstance(source, HubSource):
        return "hub" if source.root is None else f"hub copy at {source.root}"
    digest = hashlib.sha256()
    if isinstance(source, JsonlSource):
        for path in (source.root / f"{name}.jsonl", source.root / f"{name}.fewshot.jsonl"):
            data = path.read_bytes() if path.is_file() else b"absent"
            digest.update(f"{path.name} {len(data)}\n".encode() + data)
    else:
        digest.update(json.dumps([source.eval_items(name), source.fewshot_items(name)], sort_keys=True,
                                 default=str).encode())
    return digest.hexdigest()


def task_key(fields: Mapping[str, Any], task: str, *, source: str, num_fewshot: int, limit: int | None, seed: int,
             max_gen_toks: int) -> dict[str, Any]:
    """The full key of one task's result (stored inside its file and checked on reading)."""
    spec = get_task(task)
    return {"format": FORMAT, "task": spec.name, **fields, "source": source, "num_fewshot": num_fewshot,
            "limit": limit, "seed": seed, "max_gen_toks": max_gen_toks if spec.generative else None}


def entry_path(cache_dir: str | os.PathLike, key: Mapping[str, Any]) -> Path:
    """``<cache_dir>/<task>-<sha256 of the key>.json``."""
    return Path(cache_dir) / f"{key['task']}-{_sha256(dict(key))}.json"


def store(cache_dir: str | os.PathLike, key: Mapping[str, Any], *, samples: list[dict[str, Any]], score: float,
          stderr: float, subscores: Mapping[str, float] | None, settings: Mapping[str, Any]) -> Path:
    """Write one task's result atomically (a NaN standard error as null); return the file."""
    payload = {"samples": samples, "score": score, "stderr": None if math.isnan(stderr) else stderr,
               "subscores": None if subscores is None else dict(subscores), "settings": dict(settings)}
    entry = {"key": dict(key), "checksum": _sha256(payload), **payload}
    return write_text_atomic(entry_path(cache_dir, key), json.dumps(entry, default=str) + "\n")


def load(cache_dir: str | os.PathLike, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """One task's stored result (``samples``, ``score``, ``stderr`` with NaN restored, ``subscores`` or None,
    ``settings``), or None when there is none; a file that is unreadable or is not this key's is ignored with a
    warning."""
    path = entry_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry["key"] != dict(key):
            raise ValueError("it holds another key")
        payload = {k: entry[k] for k in ("samples", "score", "stderr", "subscores", "settings")}
        if entry["checksum"] != _sha256(payload):
            raise ValueError("its checksum does not match its contents")
        if not isinstance(payload["samples"], list) or not isinstance(payload["score"], int | float):
            raise ValueError("it has no samples or score")
    except (OSError, ValueError, KeyError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        warnings.warn(f"score cache: ignoring {path} ({err}); the task is scored again", stacklevel=2)
        return None
    payload["stderr"] = math.nan if payload["stderr"] is None else payload["stderr"]
    return payload
