"""Presets as data: YAML files loaded into typed, frozen config objects.

A preset (``tiny``, ``small``, ``paper`` or a path to a YAML file) fixes every knob of the pipeline.
Code reads values from it and never branches on a preset's name.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from solar_utils.world import WorldConfig

PRESETS_DIR = Path(__file__).parent / "presets"
PRESET_NAMES = ("tiny", "small", "paper")


class PresetError(ValueError):
    """A preset that does not exist, or a YAML file with unknown keys or wrongly typed values."""


@dataclass(frozen=True)
class TextSource:
    """Where a list of documents comes from: the tiny world (``kind: world``) or a hub dataset."""

    kind: Literal["world", "hub"] = "world"
    split: str = "train"
    path: str | None = None
    name: str | None = None
    column: str = "text"
    max_docs: int | None = None


@dataclass(frozen=True)
class DataConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    pretrain: TextSource = field(default_factory=TextSource)
    heldout: TextSource = field(default_factory=lambda: TextSource(split="heldout"))


@dataclass(frozen=True)
class TokenizerConfig:
    """``source: train`` trains a byte-level BPE on the pretraining text; ``hub`` uses the model's own."""

    source: Literal["train", "hub"] = "train"
    vocab_size: int = 2048
    min_frequency: int = 2


@dataclass(frozen=True)
class ModelConfig:
    """``source: scratch`` builds a fresh model of this shape; ``hub`` loads ``hub_id``.

    ``architecture`` is the class the weights live in: the paper loads Mistral-7B weights into
    the 32-layer Llama-2 architecture (``architecture: llama`` with a Mistral ``hub_id``).
    """

    source: Literal["scratch", "hub"] = "scratch"
    hub_id: str | None = None
    revision: str | None = None
    architecture: Literal["llama", "mistral", "auto"] = "llama"
    hidden_size: int = 96
    num_hidden_layers: int = 8
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 256
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_word_embeddings: bool = True
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass(frozen=True)
class PretrainConfig:
    """Pretraining from scratch with the HF Trainer (used only when ``model.source`` is ``scratch``)."""

    max_steps: int = 600
    batch_size: int = 8
    seq_len: int = 256
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    weight_decay: float = 0.1
    adam_beta2: float = 0.95
    bf16_autocast: bool = True
    eval_every: int = 50
    eval_blocks: int = 48
    save_every: int = 200


@dataclass(frozen=True)
class HeldoutConfig:
    """How held-out loss is measured: packed blocks of ``seq_len`` tokens, at most ``max_blocks``."""

    seq_len: int = 256
    max_blocks: int = 96
    batch_size: int = 16


@dataclass(frozen=True)
class DUSConfig:
    """Depth up-scaling: ``m`` layers dropped at the seam; ``sweep`` extra m values to compare;
    ``identity_every`` > 0 adds a LLaMA-Pro identity-expansion control; ``reference_shape`` is
    built on the meta device to show the paper's parameter count."""

    m: int = 2
    sweep: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    identity_every: int = 2
    max_shard_size: str = "2GB"
    reference_shape: str = "mistral-7b"
    reference_m: int = 8


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    dus: DUSConfig = field(default_factory=DUSConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_preset(preset: str | Path, overrides: dict[str, Any] | None = None) -> Preset:
    """Load a named preset (``tiny``, ``small``, ``paper``) or a YAML file into a :class:`Preset`.

    ``overrides`` is a nested dict merged over the YAML (e.g. ``{"pretrain": {"max_steps": 10}}``).
    """
    path = Path(preset)
    if str(preset) in PRESET_NAMES:
        path = PRESETS_DIR / f"{preset}.yaml"
    elif path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise PresetError(
            f"unknown preset {str(preset)!r}: choose one of {', '.join(PRESET_NAMES)}, "
            "or pass the path of an existing YAML file"
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise PresetError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise PresetError(f"{path} must hold a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    return _build(Preset, _merge(raw, overrides or {}), where=path.name)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value type."""
    if not isinstance(data, dict):
        raise PresetError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PresetError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(names)}")
    values = {key: _coerce(hints[key], value, f"{where}:{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise PresetError(f"{where}: {err}") from err


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the type ``hint`` (dataclasses, Literal, unions, lists, scalars)."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise PresetError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                return _coerce(option, value, where)
            except PresetError as err:
                errors.append(str(err))
        raise PresetError(f"{where}: {value!r} matches none of the allowed types ({'; '.join(errors)})")
    if origin is list:
        if not isinstance(value, list):
            raise PresetError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is type(None):
        if value is not None:
            raise PresetError(f"{where}: expected null, got {value!r}")
        return None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool) or not isinstance(value, hint):
        raise PresetError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
