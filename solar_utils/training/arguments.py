"""One builder for the trainer settings every stage shares: pretraining and continued pretraining (the HF
``Trainer``'s ``TrainingArguments``), SFT and DPO (trl's ``SFTConfig`` and ``DPOConfig``, its subclasses).

Reference: ``transformers.TrainingArguments`` (https://huggingface.co/docs/transformers/main_classes/trainer) and
trl's ``SFTConfig`` / ``DPOConfig`` (https://huggingface.co/docs/trl), which change some of its defaults (bf16 and
gradient checkpointing on): every setting below is given explicitly, so each stage gets the same ones.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from transformers import TrainingArguments

from solar_utils.pretrain import bf16_available
from solar_utils.training.devices import mixed_precision_bf16

Args = TypeVar("Args", bound=TrainingArguments)


class Recipe(Protocol):
    """What a stage's config gives every trainer: ``PretrainConfig``, ``InstructConfig``, ``AlignmentConfig``."""

    batch_size: int
    learning_rate: float
    warmup_steps: int
    eval_every: int
    save_every: int
    gradient_checkpointing: bool


def trainer_arguments(args_class: type[Args], cfg: Recipe, output_dir: Path, seed: int, device: torch.device, *,
                      max_steps: int, lr_scheduler_type: str, weight_decay: float = 0.0, bf16: bool = True,
                      bf16_on_cpu: bool = False, eval_batch_size: int = 16, logging_steps: int | None = None,
                      evaluate: bool = True, **extras: Any) -> Args:
    """``args_class`` with the shared settings from the stage's recipe ``cfg`` and ``device``, plus the stage's own
    ``extras`` (Adam betas, ``beta``, ``max_length``, ``eval_on_start``...).

    Evaluation every ``cfg.eval_every`` steps (none when not ``evaluate``), a checkpoint every ``cfg.save_every``
    steps with only the newest kept, a log line every ``logging_steps`` (default: 10, or ``eval_every`` if smaller);
    ``seed`` for the model and the data order; no reporting integrations, no dataloader workers. bf16 (when ``bf16``)
    only where the hardware does it natively, and on CPUs only with ``bf16_on_cpu`` (the Trainer's CPU autocast;
    the trl stages keep float32 there)."""
    return args_class(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=eval_batch_size, learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type=lr_scheduler_type, weight_decay=weight_decay,
        bf16=bf16 and (bf16_available(device) if bf16_on_cpu else mixed_precision_bf16(device)),
        **_checkpointing(args_class, cfg.gradient_checkpointing), eval_strategy="steps" if evaluate else "no",
        eval_steps=cfg.eval_every, logging_steps=min(10, cfg.eval_every) if logging_steps is None else logging_steps,
        save_strategy="steps", save_steps=cfg.save_every, save_total_limit=1, seed=seed, data_seed=seed,
        report_to="none", dataloader_num_workers=0, use_cpu=device.type == "cpu", **extras,
    )


def _checkpointing(args_class: type[TrainingArguments], enabled: bool) -> dict[str, bool | None]:
    """Gradient (activation) checkpointing under the name the installed transformers reads: 5.x's
    ``activation_checkpointing`` where it exists, with the deprecated ``gradient_checkpointing`` left unset so that
    no FutureWarning is raised (trl's configs default that one to True)."""
    if "activation_checkpointing" in {f.name for f in fields(args_class)}:
        return {"activation_checkpointing": enabled, "gradient_checkpointing": None}
    return {"gradient_checkpointing": enabled}
