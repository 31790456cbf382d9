"""Merge recipes in mergekit's YAML layout: parse, validate, write, and resolve per-tensor parameters.

A recipe names a ``merge_method``, its inputs as ``models`` (whole models) or ``slices`` (layer ranges, e.g. for
``passthrough``), an optional ``base_model``, ``parameters`` (global, per slice or per model) and ``dtype`` /
``out_dtype`` / ``tokenizer_source``. A parameter is a number, a list of anchors interpolated over depth, or a
list of ``{filter, value}`` entries whose first entry with ``filter`` in the tensor name applies — exactly as in
mergekit, so a recipe moves between the two tools. ``random_seed`` (seed of DARE's masks) is our addition;
mergekit ignores it.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from solar_utils.checkpoints import write_text_atomic
from solar_utils.dus import dus_layer_map
from solar_utils.merging.methods import MergeError, MethodSpec, check_density, check_t, method_spec

Setting = Any
"""A parameter setting: scalar, list of scalars (a gradient over depth), or ``{filter, value}`` entries."""

RECIPE_NAME = "mergekit_config.yml"
"""File name of the recipe written beside a merged checkpoint (the name mergekit uses)."""

DTYPES = ("float32", "float16", "bfloat16", "float64")
_TOP_KEYS = {
    "merge_method",
    "models",
    "slices",
    "base_model",
    "parameters",
    "dtype",
    "out_dtype",
    "tokenizer_source",
    "random_seed",
}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MergeError(f"expected a finite number, got {value!r}.")
    return float(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise MergeError(f"expected true or false, got {value!r}.")
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "t": check_t,
    "density": check_density,
    "weight": _number,
    "lambda": _number,
    "normalize": _flag,
    "rescale": _flag,
    "int8_mask": _flag,
}


def _leaves(setting: Setting) -> list[Any]:
    """The scalar values a setting can produce (a gradient's anchors, every filtered entry's values)."""
    if isinstance(setting, Mapping):
        setting = [setting]
    if not isinstance(setting, list):
        return [setting]
    if all(isinstance(e, Mapping) for e in setting):
        leaves = []
        for entry in setting:
            if "value" not in entry or set(entry) - {"filter", "value"}:
                raise MergeError(
                    f"a filtered parameter entry needs keys 'value' and optionally 'filter', got {dict(entry)!r}."
                )
            if entry.get("filter") is not None and not isinstance(entry["filter"], str):
                raise MergeError(
                    f"a parameter filter must be a string (a part of tensor names), got {entry['filter']!r}."
                )
            leaves += _leaves(entry["value"])
        return leaves
    if any(isinstance(e, (Mapping, list)) for e in setting):
        raise MergeError(
            f"a parameter list is either scalars (a gradient) or {{filter, value}} entries, not both: {setting!r}."
        )
    return list(setting)


def resolve_setting(setting: Setting, tensor_name: str, depth: float) -> Any:
    """The value of ``setting`` for ``tensor_name`` at relative depth ``depth`` ∈ [0, 1]; None if no filter applies.

    A gradient ``[v0, …, vk]`` is interpolated linearly at ``depth · k`` (discrete values are picked, not
    interpolated); ``{filter, value}`` entries apply in order, the first whose ``filter`` is missing, ``"*"`` or a
    substring of the tensor name wins (mergekit's rules).
    """
    if isinstance(setting, Mapping):
        setting = [setting]
    if not isinstance(setting, list):
        return setting
    if not setting:
        return None
    if all(isinstance(e, Mapping) for e in setting):
        for entry in setting:
            if entry.get("filter") in (None, "*") or entry["filter"] in tensor_name:
                return resolve_setting(entry["value"], tensor_name, depth)
        return None
    if any(isinstance(e, bool) or not isinstance(e, (int, float)) for e in setting):
        return setting[int(depth * (len(setting) - 1))]
    position = depth * (len(setting) - 1)
    low = int(position)
    high = min(low + 1, len(setting) - 1)
    frac = position - low
    return (1 - frac) * setting[low] + frac * setting[high]


def check_value(name: str, value: Any) -> Any:
    """``value`` checked (and normalised) for parameter ``name``; :class:`MergeError` naming the parameter if bad."""
    try:
        return _CHECKS[name](value)
    except MergeError as exc:
        raise MergeError(f"parameter {name!r}: {exc}") from None


@dataclass(frozen=True)
class Source:
    """One input: a model (a checkpoint folder), optionally a half-open ``layer_range``, its own parameters."""

    model: str
    layer_range: tuple[int, int] | None = None
    parameters: dict[str, Setting] = field(default_factory=dict)


@dataclass(frozen=True)
class Slice:
    """One block of output layers, merged from equally long layer ranges of its sources."""

    sources: tuple[Source, ...]
    parameters: dict[str, Setting] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        start, stop = self.sources[0].layer_range
        return stop - start


@dataclass(frozen=True)
class MergeRecipe:
    """A validated merge recipe (mergekit's layout); build one with :func:`make_recipe`, :func:`load_recipe`
    or :func:`dus_recipe`. Exactly one of ``models`` and ``slices`` is given."""

    merge_method: str
    models: tuple[Source, ...] = ()
    slices: tuple[Slice, ...] = ()
    base_model: str | None = None
    parameters: dict[str, Setting] = field(default_factory=dict)
    dtype: str | None = None
    out_dtype: str | None = None
    tokenizer_source: str | None = None
    random_seed: int = 0

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def method(self) -> MethodSpec:
        return method_spec(self.merge_method)

    def referenced_models(self) -> list[str]:
        """Every model the recipe reads, in order of first mention (the base last unless listed)."""
        sources = self.models or tuple(s for sl in self.slices for s in sl.sources)
        refs = [s.model for s in sources] + ([self.base_model] if self.base_model else [])
        return list(dict.fromkeys(refs))

    @property
    def reference_model(self) -> str:
        """The model whose config (and, by default, tokenizer) the output takes: the base, else the first model."""
        return self.base_model or self.referenced_models()[0]

    def to_dict(self) -> dict[str, Any]:
        """The recipe as mergekit's YAML layout (a plain dict, defaults left out)."""
        out: dict[str, Any] = {"merge_method": self.merge_method}
        if self.models:
            out["models"] = [_source_dict(s) for s in self.models]
        else:
            out["slices"] = [
                {
                    "sources": [_source_dict(s) for s in sl.sources],
                    **({"parameters": copy.deepcopy(sl.parameters)} if sl.parameters else {}),
                }
                for sl in self.slices
            ]
        optional = {
            "base_model": self.base_model,
            "parameters": self.parameters or None,
            "dtype": self.dtype,
            "out_dtype": self.out_dtype,
            "tokenizer_source": self.tokenizer_source,
            "random_seed": self.random_seed if self.method.random else None,
        }
        out.update({k: copy.deepcopy(v) for k, v in optional.items() if v is not None})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergeRecipe:
        """Parse mergekit's YAML layout; unsupported keys (``modules``, ``tokenizer``, ...) are refused."""
        if not isinstance(data, Mapping):
            raise MergeError(
                f"a recipe is a mapping with at least merge_method and models or slices, got {type(data).__name__}."
            )
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise MergeError(
                f"recipe keys {sorted(unknown)} are not supported here (supported: {sorted(_TOP_KEYS)}); "
                "run such recipes with mergekit itself."
            )
        if "merge_method" not in data:
            raise MergeError("the recipe has no merge_method; add e.g. 'merge_method: linear'.")
        return cls(
            merge_method=data["merge_method"],
            models=tuple(_parse_source(m, with_range=False) for m in data.get("models") or ()),
            slices=tuple(_parse_slice(s) for s in data.get("slices") or ()),
            base_model=_model_ref(data["base_model"]) if data.get("base_model") is not None else None,
            parameters=copy.deepcopy(dict(data.get("parameters") or {})),
            dtype=data.get("dtype"),
            out_dtype=data.get("out_dtype"),
            tokenizer_source=_model_ref(data["tokenizer_source"]) if data.get("tokenizer_source") is not None else None,
            random_seed=data.get("random_seed", 0),
        )


def _source_dict(source: Source) -> dict[str, Any]:
    out: dict[str, Any] = {"model": source.model}
    if source.layer_range is not None:
        out["layer_range"] = list(source.layer_range)
    if source.parameters:
        out["parameters"] = copy.deepcopy(source.parameters)
    return out


def _model_ref(value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise MergeError(f"a model is named by its checkpoint folder (a path), got {value!r}.")
    return str(value)


def _parse_source(data: Any, with_range: bool) -> Source:
    if not isinstance(data, Mapping) or "model" not in data:
        raise MergeError(f"each input needs a 'model' key (its checkpoint folder), got {data!r}.")
    extra = set(data) - {"model", "parameters", "layer_range"}
    if extra or ("layer_range" in data) != with_range:
        where = (
            "slice sources need 'layer_range'" if with_range else "'models' entries take no 'layer_range' (use slices)"
        )
        raise MergeError(
            f"input {data!r}: {where}; allowed keys are model, parameters{', layer_range' if with_range else ''}."
        )
    layer_range = None
    if with_range:
        rng = data["layer_range"]
        if not (
            isinstance(rng, (list, tuple))
            and len(rng) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in rng)
        ):
            raise MergeError(f"layer_range must be two integers [start, stop), got {rng!r}.")
        layer_range = (rng[0], rng[1])
    return Source(_model_ref(data["model"]), layer_range, copy.deepcopy(dict(data.get("parameters") or {})))


def _parse_slice(data: Any) -> Slice:
    if not isinstance(data, Mapping) or not data.get("sources") or set(data) - {"sources", "parameters"}:
        raise MergeError(
            f"each slice is {{sources: [...], parameters: {{...}}}} with at least one source, got {data!r}."
        )
    return Slice(
        tuple(_parse_source(s, with_range=True) for s in data["sources"]),
        copy.deepcopy(dict(data.get("parameters") or {})),
    )


# ----------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------


def _check_params(params: Mapping[str, Setting], allowed: Mapping[str, Any], where: str, method: str) -> None:
    for name, setting in params.items():
        if name not in allowed:
            raise MergeError(
                f"{where}: {method} takes no parameter {name!r} there; allowed: {sorted(allowed) or 'none'}."
            )
        leaves = _leaves(setting)
        if not leaves:
            raise MergeError(f"{where}: parameter {name!r} is empty; give it a value.")
        for leaf in leaves:
            check_value(name, leaf)


def _check_slices(recipe: MergeRecipe, spec: MethodSpec) -> None:
    for k, sl in enumerate(recipe.slices):
        lengths = set()
        for source in sl.sources:
            start, stop = source.layer_range
            if not 0 <= start < stop:
                raise MergeError(
                    f"slice {k}: layer_range [{start}, {stop}) of {source.model} is empty or negative; "
                    "use 0 <= start < stop."
                )
            lengths.add(stop - start)
        if len(lengths) > 1:
            raise MergeError(f"slice {k}: all sources must span the same number of layers, got {sorted(lengths)}.")
        models = [s.model for s in sl.sources]
        if spec.needs_base and recipe.base_model not in models:
            raise MergeError(
                f"slice {k}: {spec.name} needs the base model {recipe.base_model!r} among the slice's sources; add it "
                "with the same layer_range."
            )
        _check_count(spec, len(models), f"slice {k}")


def _check_count(spec: MethodSpec, count: int, where: str) -> None:
    if count < spec.min_models or (spec.max_models is not None and count > spec.max_models):
        wanted = f"exactly {spec.max_models}" if spec.max_models == spec.min_models else f"at least {spec.min_models}"
        raise MergeError(f"{where}: {spec.name} merges {wanted} models (base included), got {count}.")


def _validate(recipe: MergeRecipe) -> None:
    spec = recipe.method
    if bool(recipe.models) == bool(recipe.slices):
        raise MergeError("a recipe has exactly one of 'models' (whole models) and 'slices' (layer ranges).")
    if spec.needs_base and recipe.base_model is None:
        raise MergeError(f"{spec.name} needs base_model (the model the others are measured from); add it.")
    if recipe.models:
        names = [s.model for s in recipe.models]
        if len(set(names)) != len(names):
            raise MergeError(f"a model is listed twice in {names}; list each once (weights set its share).")
        _check_count(spec, len(recipe.referenced_models()) if spec.needs_base else len(names), "models")
    else:
        _check_slices(recipe, spec)
    everywhere = {**spec.model_params, **spec.shared_params}
    _check_params(recipe.parameters, everywhere, "parameters", spec.name)
    for k, sl in enumerate(recipe.slices):
        _check_params(sl.parameters, everywhere, f"slice {k} parameters", spec.name)
    for source in recipe.models or tuple(s for sl in recipe.slices for s in sl.sources):
        _check_params(source.parameters, spec.model_params, f"parameters of {source.model}", spec.name)
    for name, default in spec.shared_params.items():
        covered = name in recipe.parameters or (recipe.slices and all(name in sl.parameters for sl in recipe.slices))
        if default is None and not covered:
            raise MergeError(f"{spec.name} needs parameter {name!r}; add it under 'parameters'.")
    for key in ("dtype", "out_dtype"):
        value = getattr(recipe, key)
        if value is not None and value not in DTYPES:
            raise MergeError(f"{key} {value!r} is not supported; use one of {list(DTYPES)}.")
    if recipe.tokenizer_source == "union":
        raise MergeError(
            "tokenizer_source 'union' (merging vocabularies) needs mergekit; name one model's folder instead."
        )
    if recipe.tokenizer_source == "base" and recipe.base_model is None:
        raise MergeError("tokenizer_source is 'base' but the recipe has no base_model; name a model's folder instead.")
    if isinstance(recipe.random_seed, bool) or not isinstance(recipe.random_seed, int):
        raise MergeError(f"random_seed must be an integer, got {recipe.random_seed!r}.")


def torch_dtype(name: str | None) -> torch.dtype | None:
    """``"bfloat16"`` -> ``torch.bfloat16`` (None stays None)."""
    return None if name is None else getattr(torch, name)


# ----------------------------------------------------------------------------------------------------------
# Building, reading and writing recipes
# ----------------------------------------------------------------------------------------------------------


def make_recipe(
    method: str,
    models: Sequence[str | os.PathLike],
    *,
    base: str | os.PathLike | None = None,
    weights: Sequence[Setting] | None = None,
    densities: Sequence[Setting] | None = None,
    t: Setting = None,
    lambda_: Setting = None,
    normalize: bool | None = None,
    rescale: bool | None = None,
    dtype: str | None = None,
    out_dtype: str | None = None,
    tokenizer_source: str | os.PathLike | None = None,
    random_seed: int = 0,
) -> MergeRecipe:
    """A recipe from Python arguments: one weight/density per model in ``models`` (the base excluded), shared
    ``t``/``lambda_``/``normalize``/``rescale`` (None: the method's default). SLERP takes two models and uses the
    first as base (``t = 0``) unless ``base`` is given."""
    refs = [_model_ref(m) for m in models]
    base_ref = _model_ref(base) if base is not None else None
    if method == "slerp" and base_ref is None and refs:
        base_ref = refs[0]
    per_model: list[dict[str, Setting]] = [{} for _ in refs]
    for key, values in (("weight", weights), ("density", densities)):
        if values is not None:
            if len(values) != len(refs):
                raise MergeError(
                    f"got {len(values)} {key}s for {len(refs)} models; give one per model (base excluded)."
                )
            for params, value in zip(per_model, values):
                params[key] = copy.deepcopy(value)
    shared = {"t": t, "lambda": lambda_, "normalize": normalize, "rescale": rescale}
    return MergeRecipe(
        merge_method=method,
        models=tuple(Source(ref, None, params) for ref, params in zip(refs, per_model)),
        base_model=base_ref,
        parameters={k: copy.deepcopy(v) for k, v in shared.items() if v is not None},
        dtype=dtype,
        out_dtype=out_dtype,
        tokenizer_source=_model_ref(tokenizer_source) if tokenizer_source is not None else None,
        random_seed=random_seed,
    )


def passthrough_recipe(model: str | os.PathLike, layer_map: Sequence[int], dtype: str | None = None) -> MergeRecipe:
    """A ``passthrough`` recipe whose output layer ``j`` is layer ``layer_map[j]`` of ``model``; each run of
    consecutive layers becomes one slice."""
    if not layer_map:
        raise MergeError("the layer map is empty; the output needs at least one layer.")
    runs: list[list[int]] = []
    for layer in layer_map:
        if runs and layer == runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([layer, layer + 1])
    ref = _model_ref(model)
    return MergeRecipe("passthrough", slices=tuple(Slice((Source(ref, (a, b)),)) for a, b in runs), dtype=dtype)


def dus_recipe(model: str | os.PathLike, num_layers: int, overlap: int, dtype: str | None = None) -> MergeRecipe:
    """Depth up-scaling (SOLAR, arXiv 2312.15166 Sec. 2) as a ``passthrough`` recipe: layers ``[0, n − m)`` of the
    model, then layers ``[m, n)`` of its copy (:func:`solar_utils.dus.dus_layer_map`; n = 32, m = 8 in the paper)."""
    return passthrough_recipe(model, dus_layer_map(num_layers, overlap), dtype)


class _Dumper(yaml.SafeDumper):
    """Numeric lists (layer ranges, gradients) in flow style, as mergekit writes them."""

    def represent_list(self, data: list[Any]) -> yaml.SequenceNode:
        flow = all(isinstance(e, (int, float)) for e in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _Dumper.represent_list)


def recipe_yaml(recipe: MergeRecipe) -> str:
    """The recipe as mergekit-style YAML text."""
    return yaml.dump(recipe.to_dict(), Dumper=_Dumper, sort_keys=False)


def write_recipe(recipe: MergeRecipe, path: str | os.PathLike) -> Path:
    """Write ``recipe`` as mergekit-style YAML to ``path`` atomically; return ``path`` (``mergekit-yaml`` runs it)."""
    return write_text_atomic(path, recipe_yaml(recipe))


def load_recipe(source: MergeRecipe | Mapping[str, Any] | str | os.PathLike) -> MergeRecipe:
    """A :class:`MergeRecipe` from a recipe, a dict, a YAML file path or YAML text; a file's relative model folders
    are read from the file's own folder (mergekit reads them from the working directory)."""
    if isinstance(source, MergeRecipe):
        return source
    if isinstance(source, Mapping):
        return MergeRecipe.from_dict(source)
    path, folder = Path(source), None
    if isinstance(source, os.PathLike) or "\n" not in str(source):
        if not path.is_file():
            raise MergeError(f"recipe file {path} does not exist; check the path.")
        text, folder = path.read_text(encoding="utf-8"), path.parent
    else:
        text = str(source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MergeError(f"the recipe is not valid YAML ({exc}).") from exc
    return MergeRecipe.from_dict(data if folder is None else _relative_to(data, folder))


_PATH_KEYS = ("model", "base_model", "tokenizer_source")


def _relative_to(data: Any, folder: Path) -> Any:
    """A recipe file's relative model folders (``model``, ``base_model``, a ``tokenizer_source`` folder) resolved
    against the file's own folder, so a recipe reads the same models from wherever it is run."""
    if isinstance(data, list):
        return [_relative_to(item, folder) for item in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        if key in _PATH_KEYS and isinstance(value, str) and value not in ("base", "union") \
                and not Path(value).is_absolute():
            value = str(folder / value)
        out[key] = _relative_to(value, folder)
    return out
