"""One DPO run (Rafailov et al., arXiv 2305.18290) with trl's ``DPOTrainer``, hyper-parameters after Zephyr's recipe
(arXiv 2310.16944: β 0.1, linear decay after warm-up), as SOLAR's alignment stage (paper Sec. 3.2).

The policy starts from ``model_dir`` with full fine-tuning, LoRA or QLoRA; the reference is an explicitly loaded,
frozen copy of ``ref_dir`` (with LoRA: the merged checkpoint the adapters start from). A run resumes from the newest
checkpoint in its output folder and returns the merged, standard model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, set_seed
from trl import DPOConfig, DPOTrainer

from solar_utils.alignment.preferences import Preference
from solar_utils.checkpoints import load_model, read_config
from solar_utils.config import AdapterConfig, AlignmentConfig
from solar_utils.training.adapters import load_4bit, load_for_training, merge_adapters
from solar_utils.training.arguments import trainer_arguments
from solar_utils.training.devices import training_device
from solar_utils.quiet import quietly
from solar_utils.resume import train_resumable


class AlignmentError(ValueError):
    """A DPO or sDPO run that cannot start as configured; the message names the setting, model or data."""


@dataclass(frozen=True)
class DPORun:
    """A finished DPO run: the merged standard model, trl's log, steps, runtime, the checkpoint it resumed from and
    trl's held-out metrics after training (``eval_rewards/accuracies``...; empty without held-out pairs)."""

    model: PreTrainedModel
    log_history: list[dict[str, Any]]
    steps: int
    train_runtime_s: float
    resumed_from: str | None
    heldout: dict[str, float]

    @property
    def train_log(self) -> list[dict[str, float]]:
        """trl's training log entries: step, loss, rewards/accuracies, rewards/margins."""
        keys = ("step", "loss", "rewards/accuracies", "rewards/margins")
        return [{k: entry[k] for k in keys} for entry in self.log_history if "loss" in entry]

    @property
    def loss_start(self) -> float:
        return self.train_log[0]["loss"]

    @property
    def loss_end(self) -> float:
        return self.train_log[-1]["loss"]


def steps_for(n_pairs: int, cfg: AlignmentConfig) -> int:
    """Optimizer steps of a DPO run on ``n_pairs``: ``cfg.max_steps_per_step``, or one pass when that is null."""
    return cfg.max_steps_per_step or math.ceil(n_pairs / cfg.batch_size)


def dpo_arguments(cfg: AlignmentConfig, output_dir: Path, seed: int, device: torch.device, max_steps: int,
                  evaluate: bool) -> DPOConfig:
    """trl settings from the preset: Zephyr's linear decay and ``beta``, pairs cut at ``max_length``, held-out pairs
    in batches of ``batch_size``, a log line at least once per run (the shared settings, with device-aware
    precision: :func:`~solar_utils.training.arguments.trainer_arguments`)."""
    return trainer_arguments(DPOConfig, cfg, output_dir, seed, device, max_steps=max_steps, lr_scheduler_type="linear",
                             eval_batch_size=cfg.batch_size, logging_steps=min(10, cfg.eval_every, max_steps),
                             evaluate=evaluate, beta=cfg.beta, max_length=cfg.max_length)


def check_tokenizer(tokenizer: PreTrainedTokenizerBase, model_dir: str | Path, role: str) -> None:
    """Fail fast when the checkpoint at ``model_dir`` was saved with another tokenizer, or its embeddings do not
    cover ``tokenizer``'s vocabulary: its log-probabilities would then score other tokens than the policy's."""
    if (Path(model_dir) / "tokenizer_config.json").is_file():
        saved = AutoTokenizer.from_pretrained(model_dir)
        if saved.get_vocab() != tokenizer.get_vocab():
            raise AlignmentError(f"the {role} model at {model_dir} was saved with a different tokenizer "
                                 f"({len(saved)} tokens) than the one given ({len(tokenizer)} tokens); policy and "
                                 "reference must share one tokenizer")
    vocab_size = read_config(model_dir).get("vocab_size", len(tokenizer))
    if vocab_size < len(tokenizer):
        raise AlignmentError(f"the {role} model at {model_dir} has {vocab_size} token embeddings, fewer than the "
                             f"tokenizer's {len(tokenizer)} tokens; it was trained with another tokenizer")


def load_reference(model_dir: str | Path, cfg: AdapterConfig, device: torch.device) -> PreTrainedModel:
    """A frozen copy of the reference checkpoint, loaded as the policy's base is (4-bit for ``qlora``, guarded so that
    it runs the same 4-bit kernel as the policy), so that policy and reference agree exactly before the first step."""
    model = load_4bit(model_dir, cfg, device) if cfg.method == "qlora" else load_model(model_dir).to(device)
    model.requires_grad_(False)
    return model.eval()


@quietly
def run_dpo(model_dir: str | Path, tokenizer: PreTrainedTokenizerBase, train: list[Preference], cfg: AlignmentConfig,
            output_dir: str | Path, seed: int, max_steps: int | None = None, ref_dir: str | Path | None = None,
            heldout: list[Preference] | None = None, callbacks: list[TrainerCallback] | None = None) -> DPORun:
    """DPO of the checkpoint at ``model_dir`` on ``train`` against the reference at ``ref_dir`` (default: the same
    checkpoint) for ``max_steps`` (default :func:`steps_for`); resumes from the newest checkpoint in ``output_dir``."""
    ref_dir = ref_dir or model_dir
    if not train:
        raise AlignmentError(f"{output_dir}: no preference pairs to train on")
    if not tokenizer.chat_template:
        raise AlignmentError(f"{output_dir}: the tokenizer has no chat_template; conversational preference pairs "
                             "need one")
    check_tokenizer(tokenizer, model_dir, "policy")
    check_tokenizer(tokenizer, ref_dir, "reference")
    device = training_device()
    set_seed(seed)  # adapters start the same in a fresh and a resumed run
    model = load_for_training(model_dir, cfg.adapter, device, cfg.gradient_checkpointing)
    args = dpo_arguments(cfg, Path(output_dir), seed, device, max_steps or steps_for(len(train), cfg), bool(heldout))
    trainer = DPOTrainer(model=model, ref_model=load_reference(ref_dir, cfg.adapter, device), args=args,
                         train_dataset=Dataset.from_list(train),
                         eval_dataset=Dataset.from_list(heldout) if heldout else None,
                         processing_class=tokenizer, callbacks=callbacks)
    runtime, last = train_resumable(trainer, output_dir)
    metrics = trainer.evaluate() if heldout else {}
    return DPORun(merge_adapters(trainer.model, model_dir), trainer.state.log_history, trainer.state.global_step,
                  round(runtime, 1), last, metrics)
