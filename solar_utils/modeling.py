"""The base model: a fresh Llama/Mistral of the preset's shape, or a hub checkpoint in the chosen architecture.

SOLAR's base is Mistral 7B's weights in the 32-layer Llama 2 architecture (paper Sec. 2.1). Mistral and
Llama share every weight name and shape; the only architectural difference, Mistral's sliding-window
attention (window 4096), is inert for sequences up to 4096 tokens, so loading the weights into
``LlamaForCausalLM`` is exact there. :func:`load_hub_model` does this with the normal hub loaders.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM, PretrainedConfig, PreTrainedModel,
                          PreTrainedTokenizerBase)

from solar_utils.config import ModelConfig
from solar_utils.tokenizer import SOLAR_CHAT_TEMPLATE

ARCHITECTURES: dict[str, tuple[type[PretrainedConfig], type[PreTrainedModel]]] = {
    "llama": (LlamaConfig, LlamaForCausalLM),
    "mistral": (MistralConfig, MistralForCausalLM),
}
# Config fields that mean the same thing in every Llama-family config and carry over unchanged.
SHARED_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
                 "rope_parameters", "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id",
                 "initializer_range")
CONVERTIBLE = {"llama", "mistral"}


class ModelSetupError(ValueError):
    """The configured model cannot be built or loaded as asked."""


def build_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """A freshly initialised model of the preset's shape (GQA, RoPE, RMSNorm, SwiGLU) for ``tokenizer``."""
    if cfg.num_attention_heads % cfg.num_key_value_heads or cfg.hidden_size % cfg.num_attention_heads:
        raise ModelSetupError(
            f"model shape: hidden_size {cfg.hidden_size} must divide by num_attention_heads "
            f"{cfg.num_attention_heads}, which must divide by num_key_value_heads {cfg.num_key_value_heads}"
        )
    config_cls, model_cls = _architecture(cfg.architecture)
    config = config_cls(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads, max_position_embeddings=cfg.max_position_embeddings,
        rope_theta=cfg.rope_theta, rms_norm_eps=cfg.rms_norm_eps, tie_word_embeddings=cfg.tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model_cls(config).to(getattr(torch, cfg.dtype))


def as_architecture(config: PretrainedConfig, architecture: str) -> PretrainedConfig:
    """``config`` re-expressed in ``architecture`` (``auto`` keeps it); Mistral -> Llama drops the window."""
    if architecture == "auto" or config.model_type == architecture:
        return config
    if config.model_type not in CONVERTIBLE:
        raise ModelSetupError(
            f"cannot load a {config.model_type!r} checkpoint into the {architecture!r} architecture "
            f"(only {sorted(CONVERTIBLE)} convert); set model.architecture: auto in the preset"
        )
    config_cls, _ = _architecture(architecture)
    fields = {key: getattr(config, key) for key in SHARED_FIELDS if hasattr(config, key)}
    return config_cls(**fields)


def load_hub_model(cfg: ModelConfig, device_map: str | dict[str, Any] | None = None) -> PreTrainedModel:
    """Load ``cfg.hub_id`` (a hub id or a local folder) in ``cfg.architecture``, stating ``cfg.hub_context`` as
    its context length if set; checks the layer count."""
    if not cfg.hub_id:
        raise ModelSetupError("model.source is 'hub' but model.hub_id is empty: name a hub id or a local folder")
    source = AutoConfig.from_pretrained(cfg.hub_id, revision=cfg.revision)
    config = as_architecture(source, cfg.architecture)
    if cfg.hub_context is not None:
        config.max_position_embeddings = cfg.hub_context
    model_cls = AutoModelForCausalLM if cfg.architecture == "auto" else _architecture(cfg.architecture)[1]
    model = model_cls.from_pretrained(cfg.hub_id, config=config, revision=cfg.revision,
                                      dtype=getattr(torch, cfg.dtype), device_map=device_map)
    if model.config.num_hidden_layers != cfg.num_hidden_layers:
        raise ModelSetupError(
            f"{cfg.hub_id} has {model.config.num_hidden_layers} layers but the preset expects "
            f"model.num_hidden_layers = {cfg.num_hidden_layers}: fix the preset (its DUS m depends on n)"
        )
    return model


def load_hub_tokenizer(cfg: ModelConfig) -> PreTrainedTokenizerBase:
    """The hub model's own tokenizer, with a pad token (the EOS token if it has none) and a chat template:
    SOLAR-10.7B-Instruct's when it has none (a base model's tokenizer, e.g. Mistral-7B-v0.1's, carries none, and
    instruction tuning, preference pairs and chat replies all render with it); a template of its own is kept."""
    tokenizer = AutoTokenizer.from_pretrained(cfg.hub_id, revision=cfg.revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = SOLAR_CHAT_TEMPLATE
    return tokenizer


def describe_model(model: PreTrainedModel) -> dict[str, Any]:
    """The numbers a learner wants to see about a model's shape."""
    config = model.config
    return {
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "attention_heads": config.num_attention_heads,
        "kv_heads": config.num_key_value_heads,
        "ffn_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
    }


def _architecture(name: str) -> tuple[type[PretrainedConfig], type[PreTrainedModel]]:
    if name not in ARCHITECTURES:
        raise ModelSetupError(f"unknown architecture {name!r}: choose one of {sorted(ARCHITECTURES)} (or auto)")
    return ARCHITECTURES[name]
