"""Full fine-tuning, LoRA and QLoRA set-up on peft + bitsandbytes, the 4-bit gradient guard, and merging back.

A stage loads its starting checkpoint with :func:`load_for_training`, trains, and calls :func:`merge_adapters`
to get a standard Hugging Face model again (adapters folded into full-precision base weights).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
from transformers import BitsAndBytesConfig, PreTrainedModel

from solar_utils.checkpoints import load_model
from solar_utils.config import AdapterConfig
from solar_utils.training.devices import compute_dtype, kbit_device_map


def quantization_config(cfg: AdapterConfig, device: torch.device) -> BitsAndBytesConfig:
    """QLoRA's 4-bit storage: ``quant_type`` (nf4), double quantization, bf16 compute where supported. Under FSDP
    (``accelerate launch`` with ``fsdp.yaml`` sets ``ACCELERATE_USE_FSDP``) the packed weights are stored in the
    compute dtype, not uint8: FSDP shards a unit's parameters as one flat tensor of one dtype (the FSDP-QLoRA recipe
    of Answer.AI and the PEFT docs)."""
    dtype = compute_dtype(device)
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("true", "1")
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.quant_type,
                              bnb_4bit_use_double_quant=cfg.double_quant, bnb_4bit_compute_dtype=dtype,
                              bnb_4bit_quant_storage=dtype if fsdp else torch.uint8)


def guard_4bit(model: torch.nn.Module) -> int:
    """Keep 4-bit layers differentiable after inference; returns how many layers were guarded.

    On AVX512-bf16 CPUs, bitsandbytes 0.50 repacks 4-bit weights at the first no-grad forward (an eval or
    ``generate``) and from then on runs a kernel without autograd: every LoRA gradient becomes None with only a
    warning. Disabling that fast path on every ``Linear4bit`` before any inference keeps gradients flowing.
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def lora_config(cfg: AdapterConfig) -> LoraConfig:
    """peft LoRA settings for causal LM training (``all-linear``: every linear layer except the output head)."""
    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.target_modules,
                      bias="none", task_type="CAUSAL_LM")


def load_4bit(model_dir: str | Path, cfg: AdapterConfig, device: torch.device) -> PreTrainedModel:
    """The checkpoint at ``model_dir`` in QLoRA's 4-bit storage on this process's device, guarded with
    :func:`guard_4bit` before anything runs."""
    model = load_model(model_dir, quantization_config=quantization_config(cfg, device),
                       device_map=kbit_device_map(device), dtype=compute_dtype(device))
    guard_4bit(model)
    return model


def load_for_training(model_dir: str | Path, cfg: AdapterConfig, device: torch.device,
                      gradient_checkpointing: bool = False) -> PreTrainedModel:
    """Load a checkpoint ready for ``cfg.method``: the plain model (``full``), with LoRA adapters (``lora``),
    or 4-bit with LoRA adapters (``qlora``, guarded with :func:`guard_4bit` before anything runs)."""
    if cfg.method == "full":
        return load_model(model_dir)
    if cfg.method == "lora":
        model = load_model(model_dir)
        if gradient_checkpointing:
            model.enable_input_require_grads()
    else:
        model = prepare_model_for_kbit_training(load_4bit(model_dir, cfg, device),
                                                use_gradient_checkpointing=gradient_checkpointing)
    return get_peft_model(model, lora_config(cfg))


def merge_adapters(model: PreTrainedModel, base_dir: str | Path) -> PreTrainedModel:
    """A standard model: ``model`` itself after full fine-tuning, else the adapters merged into the
    full-precision weights of ``base_dir`` (for QLoRA the 4-bit base is not merged into; its source is)."""
    if not isinstance(model, PeftModel):
        return model
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        base = load_model(base_dir)
        merged = PeftModel.from_pretrained(base, tmp).merge_and_unload()
    merged.train(False)
    return merged


def qlora_memory_gb(model: torch.nn.Module, cfg: AdapterConfig) -> dict[str, float]:
    """Estimated accelerator memory (GB) for QLoRA training of ``model`` (the meta device is enough), before
    activations: 4-bit linear weights (0.5 byte + ~0.127 bit of double-quantized constants per weight), the
    other weights in bf16, and LoRA adapters of rank ``r`` on every linear layer but the head, in fp32 with
    their gradients and two AdamW moments (16 bytes per adapter parameter)."""
    head = model.get_output_embeddings()
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    quantized = sum(m.weight.numel() for m in linear)
    other = sum(p.numel() for p in model.parameters()) - quantized
    per_weight = 0.5 + (0.127 if cfg.double_quant else 0.5) / 8
    adapters = sum(cfg.r * (m.in_features + m.out_features) for m in linear)
    sizes = {"base_4bit": quantized * per_weight, "other_bf16": other * 2.0, "lora_train_state": adapters * 16.0}
    gb = {name: round(value / 1e9, 2) for name, value in sizes.items()}
    return gb | {"lora_parameters": adapters, "total": round(sum(sizes.values()) / 1e9, 2)}
