"""Merge safetensors checkpoints into a new checkpoint, tensor by tensor, without loading any model.

Inputs are read one tensor at a time (an owned copy; no memory map stays open), so only the current tensor of
each input is held; the output
goes through :class:`~solar_utils.checkpoints.ShardWriter`, which holds at most one output shard. Peak memory is
therefore about one tensor per input plus one output shard, whatever the model size.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from solar_utils.checkpoints import (
    CONFIG_NAME,
    ShardWriter,
    atomic_dir,
    check_shapes,
    checkpoint_files,
    copy_aux_files,
    read_config,
    read_tensor,
    tensor_shapes,
    write_json_atomic,
    write_model_card,
)
from solar_utils.merging.methods import MergeError
from solar_utils.merging.plan import MergePlan, ModelLayout, TensorTask, plan_merge
from solar_utils.merging.recipes import RECIPE_NAME, MergeRecipe, load_recipe, write_recipe

_VOCAB_FILES = ("tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "spiece.model")


def tokenizer_fingerprint(model_dir: str | os.PathLike) -> str | None:
    """A hash of a checkpoint's vocabulary (tokenizer.json's model and added tokens, or the vocab files); None if
    it has no tokenizer. Settings such as the chat template or ``model_max_length`` do not count."""
    src = Path(model_dir)
    digest = hashlib.sha256()
    if (src / "tokenizer.json").is_file():
        data = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
        digest.update(json.dumps([data.get("model"), data.get("added_tokens")], sort_keys=True).encode())
        return digest.hexdigest()
    found = [src / name for name in _VOCAB_FILES if (src / name).is_file()]
    for path in found:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest() if found else None


def tokenizer_dir(recipe: MergeRecipe) -> str:
    """The folder whose tokenizer the output takes; refuses models with different vocabularies unless the recipe
    names ``tokenizer_source``."""
    if recipe.tokenizer_source == "base":
        return recipe.reference_model
    if recipe.tokenizer_source is not None:
        return recipe.tokenizer_source
    prints = {ref: tokenizer_fingerprint(ref) for ref in recipe.referenced_models()}
    distinct = {p for p in prints.values() if p is not None}
    if len(distinct) > 1:
        groups: dict[str, list[str]] = {}
        for ref, fp in prints.items():
            groups.setdefault(str(fp)[:12], []).append(ref)
        raise MergeError(
            f"the models have different tokenizers ({list(groups.values())}), so the same embedding row means "
            "different tokens; merge models that share a tokenizer, or set tokenizer_source to the model whose "
            "tokenizer the output should use if you know the vocabularies line up."
        )
    return recipe.reference_model


def plan_checkpoints(recipe: MergeRecipe) -> tuple[MergePlan, dict[str, dict[str, Path]]]:
    """The merge plan for checkpoint folders, and each model's tensor-to-file map (only headers are read)."""
    files = {ref: checkpoint_files(ref) for ref in recipe.referenced_models()}
    configs = {ref: read_config(ref) for ref in files}
    for ref in files:
        check_shapes(ref, configs[ref], files[ref])
    layouts = {ref: ModelLayout(configs[ref], tensor_shapes(files[ref])) for ref in files}
    return plan_merge(recipe, layouts), files


def _read_inputs(task: TensorTask, files: Mapping[str, Mapping[str, Path]]) -> list[torch.Tensor]:
    """The task's input tensors as owned copies (no memory map stays open between tensors)."""
    return [read_tensor(files[model][name], name) for model, name in task.inputs]


def _card(recipe: MergeRecipe) -> dict[str, Any]:
    data = recipe.to_dict()
    sources = data.get("models") or [s for sl in data["slices"] for s in sl["sources"]]
    card = {"method": recipe.merge_method, "inputs": sources}
    card.update({k: v for k, v in data.items() if k not in ("merge_method", "models", "slices")})
    card["recipe file"] = f"{RECIPE_NAME} (runs with solar_utils.merging.merge_checkpoints or mergekit-yaml)"
    return card


def merge_checkpoints(
    recipe: MergeRecipe | Mapping[str, Any] | str | os.PathLike,
    output_dir: str | os.PathLike,
    max_shard_size: int | str = "5GB",
    overwrite: bool = False,
) -> Path:
    """Merge checkpoint folders as ``recipe`` says (a :class:`MergeRecipe`, a mergekit-style dict, YAML file or
    text) into ``output_dir``, streaming tensor by tensor; return ``output_dir``.

    The output holds safetensors shards of at most ``max_shard_size`` with an index, the reference model's
    config (base, else first model) with the output's layer count, the tokenizer and other files of
    ``tokenizer_source`` (default: the reference model), the recipe as ``mergekit_config.yml`` and a model card.
    Everything is checked before any weight is read; the folder appears atomically. Raises :class:`MergeError`.
    """
    recipe = load_recipe(recipe)
    plan, files = plan_checkpoints(recipe)
    tokenizer_src = tokenizer_dir(recipe)
    with atomic_dir(output_dir, overwrite=overwrite, sources=[*files, tokenizer_src]) as tmp:
        with ShardWriter(tmp, max_shard_size=max_shard_size) as writer:
            for task in plan.tasks:
                writer.add(task.name, plan.merge(task, _read_inputs(task, files)))
        copy_aux_files(tokenizer_src, tmp)
        write_json_atomic(tmp / CONFIG_NAME, plan.config)
        write_recipe(recipe, tmp / RECIPE_NAME)
        title = f"{recipe.merge_method} merge of {len(recipe.referenced_models())} model(s)"
        write_model_card(tmp, title, _card(recipe), base=recipe.base_model)
    return Path(output_dir)
