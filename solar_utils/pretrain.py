"""Pretraining a causal LM from scratch on packed token blocks with the Hugging Face ``Trainer``.

Checkpoints go to ``<output_dir>/checkpoint-N`` every ``save_every`` steps; calling :func:`pretrain`
again on the same folder resumes from the newest one and ends with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PreTrainedModel, Trainer, TrainerCallback, TrainingArguments

from solar_utils.config import PretrainConfig
from solar_utils.quiet import quietly
from solar_utils.resume import train_resumable


@dataclass(frozen=True)
class PretrainResult:
    log_history: list[dict[str, Any]]
    steps: int
    tokens_seen: int
    train_runtime_s: float
    resumed_from: str | None


def bf16_available(device: torch.device) -> bool:
    """bf16 autocast is used only where the hardware does it natively (recent x86 CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.backends.cpu.get_cpu_capability() in ("AVX512", "AVX512_BF16", "AMX")


def training_arguments(cfg: PretrainConfig, output_dir: Path, seed: int, device: torch.device) -> TrainingArguments:
    """The Trainer settings for pretraining: AdamW (0.9, beta2), cosine to ``min_lr_ratio``, bf16 autocast also on
    CPUs that do it natively; the shared settings are :func:`solar_utils.training.arguments.trainer_arguments`'s."""
    # imported here: the solar_utils.training package imports this module (continued pretraining runs pretrain())
    from solar_utils.training.arguments import trainer_arguments

    return trainer_arguments(
        TrainingArguments, cfg, output_dir, seed, device, max_steps=cfg.max_steps,
        lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio},
        weight_decay=cfg.weight_decay, adam_beta1=0.9, adam_beta2=cfg.adam_beta2, max_grad_norm=1.0,
        bf16=cfg.bf16_autocast, bf16_on_cpu=True, eval_on_start=cfg.eval_on_start,
    )


@quietly
def pretrain(model: PreTrainedModel, train_blocks: torch.Tensor, eval_blocks: torch.Tensor, cfg: PretrainConfig,
             output_dir: Path, seed: int, callbacks: list[TrainerCallback] | None = None) -> PretrainResult:
    """Train ``model`` in place on ``[n, seq_len]`` blocks; evaluates on ``eval_blocks`` every ``eval_every`` steps."""
    if train_blocks.size(1) != cfg.seq_len:
        raise ValueError(f"train blocks have {train_blocks.size(1)} tokens, the preset's seq_len is {cfg.seq_len}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args = training_arguments(cfg, Path(output_dir), seed, device)
    trainer = Trainer(model=model, args=args, train_dataset=_lm_dataset(train_blocks),
                      eval_dataset=_lm_dataset(eval_blocks[: cfg.eval_blocks]), callbacks=callbacks)
    runtime, last = train_resumable(trainer, output_dir)
    return PretrainResult(
        log_history=trainer.state.log_history, steps=trainer.state.global_step,
        tokens_seen=trainer.state.global_step * cfg.batch_size * cfg.seq_len,
        train_runtime_s=round(runtime, 1), resumed_from=last,
    )


def _lm_dataset(blocks: torch.Tensor) -> Dataset:
    rows = blocks.tolist()
    return Dataset.from_dict({"input_ids": rows, "labels": rows})
