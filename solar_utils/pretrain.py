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
from transformers.trainer_utils import get_last_checkpoint

from solar_utils.config import PretrainConfig


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
    """The Trainer settings for pretraining: AdamW (0.9, beta2), cosine to ``min_lr_ratio``, periodic eval."""
    return TrainingArguments(
        output_dir=str(output_dir), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=16, learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio},
        weight_decay=cfg.weight_decay, adam_beta1=0.9, adam_beta2=cfg.adam_beta2, max_grad_norm=1.0,
        bf16=cfg.bf16_autocast and bf16_available(device), eval_strategy="steps", eval_steps=cfg.eval_every,
        logging_steps=min(10, cfg.eval_every), save_strategy="steps", save_steps=cfg.save_every,
        save_total_limit=1, seed=seed, data_seed=seed, report_to="none", dataloader_num_workers=0,
        use_cpu=device.type == "cpu", gradient_checkpointing=cfg.gradient_checkpointing,
        eval_on_start=cfg.eval_on_start,
    )


def pretrain(model: PreTrainedModel, train_blocks: torch.Tensor, eval_blocks: torch.Tensor, cfg: PretrainConfig,
             output_dir: Path, seed: int, callbacks: list[TrainerCallback] | None = None) -> PretrainResult:
    """Train ``model`` in place on ``[n, seq_len]`` blocks; evaluates on ``eval_blocks`` every ``eval_every`` steps."""
    if train_blocks.size(1) != cfg.seq_len:
        raise ValueError(f"train blocks have {train_blocks.size(1)} tokens, the preset's seq_len is {cfg.seq_len}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args = training_arguments(cfg, Path(output_dir), seed, device)
    trainer = Trainer(model=model, args=args, train_dataset=_lm_dataset(train_blocks),
                      eval_dataset=_lm_dataset(eval_blocks[: cfg.eval_blocks]), callbacks=callbacks)
    last = get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None
    output = trainer.train(resume_from_checkpoint=last)
    return PretrainResult(
        log_history=trainer.state.log_history, steps=trainer.state.global_step,
        tokens_seen=trainer.state.global_step * cfg.batch_size * cfg.seq_len,
        train_runtime_s=round(output.metrics["train_runtime"], 1), resumed_from=last,
    )


def _lm_dataset(blocks: torch.Tensor) -> Dataset:
    rows = blocks.tolist()
    return Dataset.from_dict({"input_ids": rows, "labels": rows})
