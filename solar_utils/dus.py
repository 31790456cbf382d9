"""Depth up-scaling (DUS), SOLAR 10.7B paper Sec. 2 (arXiv 2312.15166), in memory and streaming.

Sec. 2 ("Depthwise scaling"): take the n-layer base model, duplicate it, remove the last m layers of the
original and the first m layers of the copy, and concatenate the two: s = 2·(n − m) layers (the paper:
n = 32, m = 8, s = 48). Dropping the 2m middle layers shrinks the "layer distance" at the seam compared with
plain 2n stacking. Embeddings come from the first copy, the final norm and lm_head from the last; both copies
are the same base model, so these are simply the base's tensors.

For comparison, :func:`expand_identity` implements LLaMA-Pro block expansion (arXiv 2401.02415), which adds
identity-initialised layers so the expanded model computes exactly the base's function.

Both operations record what they did in ``config.depth_up_scaling`` (method, n, layer_map, ...), which survives
``save_pretrained``/``AutoConfig.from_pretrained`` and is rendered in the model card on save.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoints import (
    LAYER_KEY,
    RECIPE_CONFIG_KEY,
    CheckpointError,
    ShardWriter,
    atomic_dir,
    check_shapes,
    checkpoint_files,
    copy_aux_files,
    default_card,
    read_config,
    read_tensor,
    write_model_card,
)


# ----------------------------------------------------------------------------------------------------------
# Layer maps
# ----------------------------------------------------------------------------------------------------------


def _require_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__}).")


def dus_layer_map(n: int, m: int) -> list[int]:
    """Source layer of each of the s = 2(n − m) up-scaled layers: original [0, n−m) then copy [m, n) (Sec. 2).

    ``m`` must be an int with 0 ≤ m < n/2: m = 0 is naive 2n stacking; m ≥ n/2 would not up-scale.
    """
    _require_int("n", n)
    _require_int("m", m)
    if n < 1:
        raise ValueError(f"the base model needs at least one layer, got n = {n}.")
    if not 0 <= 2 * m < n:
        raise ValueError(
            f"m = {m} is out of range for n = {n} layers: need 0 <= m < n/2, i.e. m in [0, {(n - 1) // 2}] "
            "(m = 0 stacks 2n layers; m >= n/2 would not up-scale). The paper uses n = 32, m = 8."
        )
    return list(range(n - m)) + list(range(m, n))


def identity_layer_map(n: int, every: int) -> tuple[list[int], list[int]]:
    """LLaMA-Pro expansion: after every ``every`` layers, a copy of the preceding layer.

    Returns ``(layer_map, identity_positions)``: the source layer of each new layer and the new positions whose
    output projections are zeroed. E.g. n = 8, every = 2 -> 12 layers.
    """
    _require_int("every", every)
    if not 1 <= every <= n:
        raise ValueError(f"every = {every} must be in [1, {n}] for a model with {n} layers.")
    layer_map: list[int] = []
    identity: list[int] = []
    for i in range(n):
        layer_map.append(i)
        if (i + 1) % every == 0:
            identity.append(len(layer_map))
            layer_map.append(i)
    return layer_map, identity


# ----------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------


def remap_layer_config(config: Any, layer_map: Sequence[int], record: dict[str, Any]) -> None:
    """Update ``config`` in place for a new layer stack built by ``layer_map``.

    Sets ``num_hidden_layers``; reorders every per-layer list attribute (``layer_types``, ``mlp_layer_types``,
    ... any list of length n whose name mentions "layer"); sets Qwen2's ``max_window_layers`` to the first
    sliding layer of the new stack (all layers if none), so it agrees with the explicit ``layer_types``; and
    stores ``record`` (plus any earlier record as ``previous``) in ``config.depth_up_scaling``.
    """
    n = config.num_hidden_layers
    for key, value in config.to_dict().items():
        if "layer" in key and isinstance(value, (list, tuple)) and len(value) == n:
            setattr(config, key, [value[i] for i in layer_map])
    config.num_hidden_layers = len(layer_map)
    if hasattr(config, "max_window_layers"):
        types = getattr(config, "layer_types", None) or []
        config.max_window_layers = next(
            (j for j, t in enumerate(types) if t == "sliding_attention"), config.num_hidden_layers
        )
    record = dict(record)
    previous = getattr(config, RECIPE_CONFIG_KEY, None)
    if previous:
        record["previous"] = previous
    setattr(config, RECIPE_CONFIG_KEY, record)


# ----------------------------------------------------------------------------------------------------------
# In memory
# ----------------------------------------------------------------------------------------------------------


def decoder_layers(model: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    """The module holding the decoder layer stack and the stack itself (``get_decoder().layers``)."""
    candidates = [model.get_decoder()] if hasattr(model, "get_decoder") else []
    for owner in [*candidates, getattr(model, "model", None)]:
        if isinstance(getattr(owner, "layers", None), nn.ModuleList):
            return owner, owner.layers
    raise ValueError(
        f"{type(model).__name__} has no decoder layer stack (model.model.layers or get_decoder().layers, an "
        "nn.ModuleList); layer surgery needs a decoder-only causal LM such as LlamaForCausalLM."
    )


def _stack_size(model: nn.Module) -> int:
    """n, the number of decoder layers, checked against ``config.num_hidden_layers``."""
    n = len(decoder_layers(model)[1])
    if model.config.num_hidden_layers != n:
        raise ValueError(
            f"config.num_hidden_layers = {model.config.num_hidden_layers} but the model has {n} decoder layers; "
            "set config.num_hidden_layers to the real count first."
        )
    return n


@contextlib.contextmanager
def _without_layers(owner: nn.Module) -> Iterator[nn.ModuleList]:
    """Temporarily replace ``owner.layers`` with an empty ModuleList (so a deepcopy skips the layers)."""
    layers = owner.layers
    owner.layers = nn.ModuleList()
    try:
        yield layers
    finally:
        owner.layers = layers


def _restack(model: nn.Module, layer_map: Sequence[int], record: dict[str, Any]) -> nn.Module:
    """A new model whose layer j is a deep copy of source layer ``layer_map[j]``, renumbered and configured."""
    owner, _ = decoder_layers(model)
    with _without_layers(owner) as layers:
        new = copy.deepcopy(model)
    new_owner, _ = decoder_layers(new)
    # Copies must point at the new config, not private copies of the old one.
    new_owner.layers = nn.ModuleList(copy.deepcopy(layers[i], memo={id(model.config): new.config}) for i in layer_map)
    for j, layer in enumerate(new_owner.layers):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = j
    remap_layer_config(new.config, layer_map, record)
    return new


def depth_up_scale(model: nn.Module, m: int) -> nn.Module:
    """Depth up-scale ``model`` (Sec. 2): a NEW model with layers [0, n−m) + [m, n) of the source.

    Every tensor is a deep copy (no storage shared with the source); attention ``layer_idx`` values are
    renumbered (else KV-cache generation silently differs from uncached); ``config.num_hidden_layers`` = s and
    per-layer config lists follow the map. Embeddings, final norm and lm_head are copies of the source's (the
    first copy's embeddings and the last copy's norm/head are the same tensors). Works on the meta device.
    """
    n = _stack_size(model)
    layer_map = dus_layer_map(n, m)
    return _restack(model, layer_map, {"method": "dus", "n": n, "m": m, "layer_map": layer_map})


def _zero_output_projections(layer: nn.Module) -> None:
    zeroed = [name for name, module in layer.named_modules() if name.rsplit(".", 1)[-1] in ("o_proj", "down_proj")]
    if len(zeroed) != 2:
        raise ValueError(f"{type(layer).__name__} needs exactly one o_proj and one down_proj to zero, found {zeroed}.")
    with torch.no_grad():
        for name in zeroed:
            for param in layer.get_submodule(name).parameters():
                param.zero_()


def expand_identity(model: nn.Module, every: int) -> nn.Module:
    """LLaMA-Pro block expansion (arXiv 2401.02415): after every ``every`` layers insert a copy of the preceding
    layer with ``o_proj`` and ``down_proj`` zeroed, so each new block is an identity map (residual only) and the
    expanded model's outputs equal the base's. A new model; the map is recorded as for :func:`depth_up_scale`.
    """
    n = _stack_size(model)
    layer_map, identity = identity_layer_map(n, every)
    record = {"method": "identity_expansion", "n": n, "every": every, "layer_map": layer_map}
    record["identity_layers"] = identity
    new = _restack(model, layer_map, record)
    layers = decoder_layers(new)[1]
    for j in identity:
        _zero_output_projections(layers[j])
    return new


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (tied tensors counted once); works on the meta device."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------------
# Streaming, shard by shard
# ----------------------------------------------------------------------------------------------------------


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _renamed_weights(names: Sequence[str], layer_map: Sequence[int], n: int) -> list[tuple[str, str]]:
    """``(new_name, source_name)`` pairs for the up-scaled checkpoint, in natural (layer) order."""
    by_layer: dict[int, list[tuple[str, str]]] = {}
    prefixes, pairs = set(), []
    for name in names:
        match = LAYER_KEY.match(name)
        if match:
            prefixes.add(match["prefix"])
            by_layer.setdefault(int(match["index"]), []).append((match["rest"], name))
        else:
            pairs.append((name, name))
    if len(prefixes) != 1 or sorted(by_layer) != list(range(n)):
        raise CheckpointError(
            f"the weights do not hold one stack of {n} layers as config.json says (layer prefixes "
            f"{sorted(p.rstrip('.') for p in prefixes)}, "
            f"layer indices {sorted(by_layer)[:3]}...{sorted(by_layer)[-3:]}); the config and weights come from "
            "different models or the architecture is not a decoder-only causal LM."
        )
    prefix = prefixes.pop()
    for j, i in enumerate(layer_map):
        pairs += [(f"{prefix}{j}.{rest}", name) for rest, name in by_layer[i]]
    return sorted(pairs, key=lambda pair: _natural_key(pair[0]))


def _num_layers(src: Path, raw_config: dict[str, Any]) -> int:
    n = raw_config.get("num_hidden_layers")
    if isinstance(n, bool) or not isinstance(n, int):
        raise CheckpointError(
            f"{src / 'config.json'} has no integer num_hidden_layers at its top level (got {n!r}); DUS needs a "
            "decoder-only causal LM config (multimodal configs with a nested text_config are not supported)."
        )
    return n


def depth_up_scale_checkpoint(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    m: int,
    max_shard_size: int | str = "5GB",
    overwrite: bool = False,
) -> Path:
    """Depth up-scale a safetensors checkpoint folder shard by shard (Sec. 2); return ``dst_dir``.

    Layer tensors ``<prefix>.layers.{i}.*`` are renamed per :func:`dus_layer_map` and every other tensor is copied
    (tied embeddings, i.e. no ``lm_head.weight`` in the file, stay tied). Tensors are read one at a time as owned
    copies (:func:`read_tensor`) and written through :class:`ShardWriter`, so peak memory is about one output
    shard, whatever the model size.
    The config gets the same update as :func:`depth_up_scale`; tokenizer and other auxiliary files are copied; a
    model card is written; the folder appears atomically. The tensors equal, bit for bit, those of
    ``save_model(depth_up_scale(load_model(src_dir), m))``.
    """
    from transformers import AutoConfig

    src = Path(src_dir)
    raw_config = read_config(src)
    n = _num_layers(src, raw_config)
    layer_map = dus_layer_map(n, m)
    files = checkpoint_files(src)
    check_shapes(src, raw_config, files)
    pairs = _renamed_weights(list(files), layer_map, n)
    config = AutoConfig.from_pretrained(src, trust_remote_code=False)
    remap_layer_config(config, layer_map, {"method": "dus", "n": n, "m": m, "layer_map": layer_map})
    with atomic_dir(dst_dir, overwrite=overwrite, sources=[src]) as tmp:
        with ShardWriter(tmp, max_shard_size) as writer:
            for new_name, source in pairs:
                writer.add(new_name, read_tensor(files[source], source))
        config.save_pretrained(tmp)
        copy_aux_files(src, tmp)
        write_model_card(tmp, **default_card(config))
    return Path(dst_dir)
