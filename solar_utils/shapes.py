"""Named model shapes (data in ``presets/shapes.yaml``): meta-device models and synthetic checkpoints.

A shape is ``{"architecture": "LlamaForCausalLM", "config": {...transformers config arguments...}}``. Shapes let
us count parameters of the paper's 7B/10.7B models without any weights, and write random checkpoints of real
size for the streaming benchmarks.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from .checkpoints import ShardWriter, atomic_dir

SHAPES_FILE = Path(__file__).parent / "presets" / "shapes.yaml"


@cache
def _shapes() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(SHAPES_FILE.read_text(encoding="utf-8"))


def shape_names() -> list[str]:
    """The named shapes in ``presets/shapes.yaml``."""
    return sorted(_shapes())


def shape_config(shape: str | dict[str, Any], num_layers: int | None = None) -> Any:
    """A transformers config for a named shape (or a shape dict), optionally with ``num_layers`` layers."""
    from transformers import AutoConfig

    if isinstance(shape, str):
        if shape not in _shapes():
            raise ValueError(f"unknown shape {shape!r}; choose one of {shape_names()} or pass a shape dict.")
        shape = _shapes()[shape]
    kwargs = dict(shape["config"])
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    config = AutoConfig.for_model(kwargs.pop("model_type"), **kwargs)
    config.architectures = [shape["architecture"]]
    return config


def meta_model(shape: str | dict[str, Any], num_layers: int | None = None) -> nn.Module:
    """The shape's causal LM on the meta device (no memory for weights): for parameter counts and layer surgery."""
    import transformers

    config = shape_config(shape, num_layers)
    model_class = getattr(transformers, config.architectures[0])
    with torch.device("meta"):
        return model_class(config)


def _random_like(tensor: torch.Tensor, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    """Norm weights (1-D) are ones; matrices are N(0, 0.02²), as a freshly initialised model."""
    if tensor.dim() == 1:
        return torch.ones(tensor.shape, dtype=dtype)
    return (torch.randn(tensor.shape, generator=generator) * 0.02).to(dtype)


def write_synthetic_checkpoint(
    shape: str | dict[str, Any],
    dst: str | os.PathLike,
    dtype: torch.dtype = torch.bfloat16,
    max_shard_size: int | str = "5GB",
    num_layers: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a random-weight safetensors checkpoint of ``shape`` plus ``config.json`` to ``dst``; return ``dst``.

    Tensors are generated and written one at a time through :class:`ShardWriter` (never a whole model in RAM), in
    the model's own state-dict order (tied copies skipped, as ``save_pretrained`` does).
    """
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    model = meta_model(shape, num_layers)
    model.config.dtype = dtype
    names = remove_tied_weights_from_state_dict(model.state_dict(), model)
    generator = torch.Generator().manual_seed(seed)
    with atomic_dir(dst, overwrite=overwrite) as tmp:
        with ShardWriter(tmp, max_shard_size) as writer:
            for name, meta in names.items():
                writer.add(name, _random_like(meta, dtype, generator))
        model.config.save_pretrained(tmp)
    return Path(dst)
