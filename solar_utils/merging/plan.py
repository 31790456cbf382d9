"""Plan a merge tensor by tensor, from a recipe and the inputs' configs and tensor shapes (no weights read).

The plan is the same for in-memory and streaming merges, so both give the same bits. Output tensors come in
order: non-layer tensors named ``*embed*`` (from the first slice's sources), decoder layers in output order, then
the other non-layer tensors (final norm, ``lm_head``; from the last slice's sources). Decoder-layer tensors are
recognised by name (``<prefix>layers.<i>.<rest>``), so any decoder-only architecture with one layer stack works.
Each layer gets a relative depth in [0, 1] within its slice (``i / (len − 1)``; non-layer tensors 0) at which
gradient parameters are evaluated, as in mergekit.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from solar_utils.checkpoints import LAYER_KEY, RECIPE_CONFIG_KEY
from solar_utils.merging.methods import MergeError, MethodSpec, check_weights
from solar_utils.merging.recipes import MergeRecipe, Setting, Slice, Source, check_value, resolve_setting, torch_dtype


@dataclass(frozen=True)
class ModelLayout:
    """What planning needs to know about one input: its ``config.json`` and the shape of each tensor."""

    config: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class TensorTask:
    """One output tensor: its input tensors ``(model, name)`` (the base first when ``has_base``) and parameters."""

    name: str
    inputs: tuple[tuple[str, str], ...]
    has_base: bool
    shared: dict[str, Any]
    per_model: tuple[dict[str, Any], ...]
    seed: int


@dataclass(frozen=True)
class MergePlan:
    """Every output tensor's task, the output ``config.json`` and the dtypes to merge in and to write."""

    method: MethodSpec
    tasks: tuple[TensorTask, ...]
    config: dict[str, Any]
    dtype: torch.dtype | None
    out_dtype: torch.dtype | None

    def merge(self, task: TensorTask, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """Run ``task`` on its input tensors (in ``task.inputs`` order)."""
        if not all(t.is_floating_point() for t in tensors):
            if self.method.name == "passthrough":
                return tensors[0]
            raise MergeError(
                f"tensor {task.name} has dtype {tensors[0].dtype}; only floating-point weights can be merged."
            )
        dtype = self.dtype or functools.reduce(torch.promote_types, (t.dtype for t in tensors))
        tensors = [t.to(dtype) for t in tensors]
        base, others = (tensors[0], tensors[1:]) if task.has_base else (None, tensors)
        merged = self.method.kernel(base, others, list(task.per_model), dict(task.shared), task.seed)
        return merged.to(self.out_dtype) if self.out_dtype else merged


@dataclass(frozen=True)
class _Structure:
    """A model's tensor names split into its decoder-layer stack and the rest."""

    prefix: str
    num_layers: int
    layer_tensors: frozenset[str]
    other_tensors: frozenset[str]


def tensor_seed(random_seed: int, name: str) -> int:
    """A 63-bit seed for tensor ``name``: the same for every run, order and machine."""
    return int.from_bytes(hashlib.sha256(f"{random_seed}/{name}".encode()).digest()[:8], "little") >> 1


def _structure(ref: str, layout: ModelLayout) -> _Structure:
    prefixes: set[str] = set()
    layers: dict[int, set[str]] = {}
    others = set()
    for name in layout.shapes:
        match = LAYER_KEY.match(name)
        if match:
            prefixes.add(match["prefix"])
            layers.setdefault(int(match["index"]), set()).add(match["rest"])
        else:
            others.add(name)
    if len(prefixes) > 1:
        raise MergeError(
            f"{ref} has layer stacks under several prefixes {sorted(prefixes)}; only one stack is supported."
        )
    count = layout.config.get("num_hidden_layers", len(layers))
    if sorted(layers) != list(range(count)):
        raise MergeError(
            f"{ref}: config.json says {count} layers but its weights hold layers "
            f"{sorted(layers)[:3]}…{sorted(layers)[-3:]}; "
            "the checkpoint is inconsistent: re-save it."
        )
    kinds = {frozenset(names) for names in layers.values()}
    if len(kinds) > 1:
        raise MergeError(f"the layers of {ref} hold different tensors; merging layer by layer needs identical layers.")
    return _Structure(next(iter(prefixes), ""), count, next(iter(kinds), frozenset()), frozenset(others))


def _name_diff(a: frozenset[str], b: frozenset[str]) -> str:
    diff = sorted(a ^ b)[:4]
    hint = (
        " (one model ties lm_head to the embeddings, the other does not)" if any("lm_head" in n for n in diff) else ""
    )
    return f"{diff}{hint}"


def _check_compatible(
    recipe: MergeRecipe, layouts: Mapping[str, ModelLayout], structures: Mapping[str, _Structure]
) -> None:
    ref = recipe.reference_model
    ref_cfg, ref_st = layouts[ref].config, structures[ref]
    for other in recipe.referenced_models():
        cfg, st = layouts[other].config, structures[other]
        for key, what in (
            ("model_type", "architectures"),
            ("architectures", "architectures"),
            ("vocab_size", "vocabulary sizes"),
        ):
            if cfg.get(key) != ref_cfg.get(key):
                raise MergeError(
                    f"{ref} and {other} have different {what} ({key} {ref_cfg.get(key)!r} vs {cfg.get(key)!r}); "
                    "only models of one architecture and vocabulary can be merged."
                )
        if recipe.models and st.num_layers != ref_st.num_layers:
            raise MergeError(
                f"{ref} has {ref_st.num_layers} layers but {other} has {st.num_layers}; merge models of one depth, "
                "or pick equally long layer ranges with slices."
            )
        for mine, theirs, what in (
            (ref_st.other_tensors, st.other_tensors, "tensors"),
            (ref_st.layer_tensors, st.layer_tensors, "layer tensors"),
        ):
            if mine != theirs:
                raise MergeError(
                    f"{ref} and {other} have different {what}: {_name_diff(mine, theirs)}; they cannot be merged."
                )


def _output_slices(recipe: MergeRecipe, structures: Mapping[str, _Structure]) -> tuple[Slice, ...]:
    """The recipe's slices; ``models`` becomes one slice of whole models (the base added when the method needs it)."""
    if recipe.slices:
        for k, sl in enumerate(recipe.slices):
            for source in sl.sources:
                start, stop = source.layer_range
                if stop > structures[source.model].num_layers:
                    raise MergeError(
                        f"slice {k}: layer_range [{start}, {stop}) is beyond the {structures[source.model].num_layers} "
                        f"layers of {source.model}; fix the range."
                    )
        return recipe.slices
    sources = list(recipe.models)
    if recipe.method.needs_base and recipe.base_model not in [s.model for s in sources]:
        sources.append(Source(recipe.base_model))
    return (Slice(tuple(Source(s.model, (0, structures[s.model].num_layers), s.parameters) for s in sources)),)


class _Planner:
    def __init__(self, recipe: MergeRecipe, layouts: Mapping[str, ModelLayout], structures: Mapping[str, _Structure]):
        self.recipe, self.layouts, self.structures = recipe, layouts, structures
        self.method = recipe.method
        self.tasks: list[TensorTask] = []

    def _value(self, key: str, scopes: Sequence[Mapping[str, Setting]], tensor: str, depth: float, default: Any) -> Any:
        for scope in scopes:
            if key in scope:
                value = resolve_setting(scope[key], tensor, depth)
                if value is not None:
                    return check_value(key, value)
        if default is None:
            raise MergeError(
                f"no value of {key!r} applies to tensor {tensor}; add an entry without 'filter' as a fallback."
            )
        return default

    def add(self, name: str, sl: Slice, sources: Sequence[tuple[Source, str]], depth: float) -> None:
        if self.method.needs_base:
            sources = sorted(sources, key=lambda pair: pair[0].model != self.recipe.base_model)
        shapes = {(src.model, tensor): self.layouts[src.model].shapes[tensor] for src, tensor in sources}
        if len(set(shapes.values())) > 1:
            listed = ", ".join(f"{model}: {list(shape)}" for (model, _), shape in shapes.items())
            raise MergeError(
                f"tensor {name} has different shapes ({listed}); models of different sizes cannot be merged."
            )
        scopes = [sl.parameters, self.recipe.parameters]
        shared = {k: self._value(k, scopes, name, depth, d) for k, d in self.method.shared_params.items()}
        others = sources[1:] if self.method.needs_base else sources
        per_model = tuple(
            {
                k: self._value(k, [src.parameters, *scopes], tensor, depth, d)
                for k, d in self.method.model_params.items()
            }
            for src, tensor in others
        )
        if self.method.sum_normalized and shared["normalize"]:
            try:
                check_weights([p["weight"] for p in per_model], True)
            except MergeError as exc:
                raise MergeError(f"tensor {name}: {exc}") from None
        self.tasks.append(
            TensorTask(
                name,
                tuple((src.model, tensor) for src, tensor in sources),
                self.method.needs_base,
                shared,
                per_model,
                tensor_seed(self.recipe.random_seed, name),
            )
        )

    def plan(self, slices: Sequence[Slice]) -> None:
        first = self.structures[slices[0].sources[0].model]
        embeds = sorted(n for n in first.other_tensors if "embed" in n)
        for name in embeds:
            self.add(name, slices[0], [(s, name) for s in slices[0].sources], 0.0)
        out_layer = 0
        for sl in slices:
            for offset in range(sl.num_layers):
                depth = offset / (sl.num_layers - 1) if sl.num_layers > 1 else 1.0
                sources = [(s, f"{self.structures[s.model].prefix}{s.layer_range[0] + offset}.") for s in sl.sources]
                for rest in sorted(first.layer_tensors):
                    self.add(
                        f"{first.prefix}{out_layer}.{rest}", sl, [(s, layer + rest) for s, layer in sources], depth
                    )
                out_layer += 1
        for name in sorted(first.other_tensors - set(embeds)):
            self.add(name, slices[-1], [(s, name) for s in slices[-1].sources], 0.0)


def _output_config(recipe: MergeRecipe, layouts: Mapping[str, ModelLayout], slices: Sequence[Slice]) -> dict[str, Any]:
    """The reference model's config with the output's layer count (and per-layer lists) and dtype."""
    config = copy.deepcopy(layouts[recipe.reference_model].config)
    firsts = [(sl.sources[0], sl.num_layers) for sl in slices]
    layers = [(src.model, src.layer_range[0] + k) for src, count in firsts for k in range(count)]
    config["num_hidden_layers"] = len(layers)
    if isinstance(config.get("layer_types"), list):
        config["layer_types"] = [layouts[m].config.get("layer_types", config["layer_types"])[i] for m, i in layers]
    if recipe.slices:
        config.pop(RECIPE_CONFIG_KEY, None)
    dtype = recipe.out_dtype or recipe.dtype
    if dtype:
        config["dtype"] = dtype
        if "torch_dtype" in config:
            config["torch_dtype"] = dtype
    return config


def plan_merge(recipe: MergeRecipe, layouts: Mapping[str, ModelLayout]) -> MergePlan:
    """Check that the inputs can be merged as ``recipe`` says and list every output tensor's task.

    ``layouts`` maps each of ``recipe.referenced_models()`` to its :class:`ModelLayout`. Raises
    :class:`MergeError` for different architectures, vocabulary sizes, layer counts, tensor names or shapes,
    layer ranges beyond a model, and parameters that resolve to bad values for some tensor.
    """
    structures = {ref: _structure(ref, layouts[ref]) for ref in recipe.referenced_models()}
    _check_compatible(recipe, layouts, structures)
    slices = _output_slices(recipe, structures)
    planner = _Planner(recipe, layouts, structures)
    planner.plan(slices)
    return MergePlan(
        recipe.method,
        tuple(planner.tasks),
        _output_config(recipe, layouts, slices),
        torch_dtype(recipe.dtype),
        torch_dtype(recipe.out_dtype),
    )
