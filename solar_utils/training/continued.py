"""Continued pretraining of the depth up-scaled model (paper Sec. 2.2), with full weights, LoRA or QLoRA.

It is pretraining (:func:`solar_utils.pretrain.pretrain`: the HF ``Trainer``, checkpoints, resume) started from
a checkpoint instead of a fresh model, so the same-recipe control (the base continued identically) is one call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedModel, TrainerCallback, set_seed

from solar_utils.config import ContinuedPretrainConfig, PretrainConfig
from solar_utils.pretrain import PretrainResult, pretrain
from solar_utils.training.adapters import load_for_training, merge_adapters
from solar_utils.training.devices import training_device
from solar_utils.quiet import quietly


@dataclass(frozen=True)
class ContinuedRun:
    """A finished continued-pretraining run: the merged standard model and the Trainer's record."""

    method: str
    model: PreTrainedModel
    result: PretrainResult

    @property
    def curve(self) -> list[tuple[int, float]]:
        """Held-out loss by step (step 0 is the starting model), one point per step."""
        return sorted({r["step"]: r["eval_loss"] for r in self.result.log_history if "eval_loss" in r}.items())


def recipe(cfg: ContinuedPretrainConfig, method: str) -> PretrainConfig:
    """The Trainer recipe for ``method``: adapters train with ``lora_learning_rate``, full weights with ``train``'s."""
    return cfg.train if method == "full" else dataclasses.replace(cfg.train, learning_rate=cfg.lora_learning_rate)


@quietly
def continue_pretraining(model_dir: str | Path, train_blocks: torch.Tensor, eval_blocks: torch.Tensor,
                         cfg: ContinuedPretrainConfig, output_dir: str | Path, seed: int, method: str | None = None,
                         callbacks: list[TrainerCallback] | None = None) -> ContinuedRun:
    """Continue pretraining the checkpoint at ``model_dir`` with ``method`` (default: the preset's adapter method).

    Checkpoints go to ``output_dir``; calling again on the same folder resumes from the newest one.
    """
    adapter = dataclasses.replace(cfg.adapter, method=method or cfg.adapter.method)
    train_cfg = recipe(cfg, adapter.method)
    set_seed(seed)  # adapters start the same in a fresh and a resumed run
    model = load_for_training(model_dir, adapter, training_device(), train_cfg.gradient_checkpointing)
    result = pretrain(model, train_blocks, eval_blocks, train_cfg, Path(output_dir), seed, callbacks)
    return ContinuedRun(adapter.method, merge_adapters(model, model_dir), result)


def recovery_step(curve: list[tuple[int, float]], target: float) -> int | None:
    """The first step whose held-out loss is at or below ``target`` (the base's), or None if it never is."""
    return next((step for step, loss in curve if loss <= target), None)


def main(argv: list[str] | None = None) -> None:
    """Command line for one continued-pretraining run, also under ``accelerate launch`` (one process per device):
    ``python -m solar_utils.training.continued --preset paper --model-dir DUS_DIR --output-dir OUT``.
    The main process saves the merged model to ``OUT/model`` and prints a JSON summary."""
    from transformers import AutoTokenizer

    from solar_utils.config import load_preset
    from solar_utils.data import load_texts, pack_blocks
    from solar_utils.training.launch import print_summary, save_once, stage_parser

    parser = stage_parser(main.__doc__, "--model-dir", "the checkpoint to continue (notebook 01's DUS model)")
    parser.add_argument("--method", choices=["full", "lora", "qlora"])
    args = parser.parse_args(argv)
    preset = load_preset(args.preset)
    cfg = preset.continued
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    train = pack_blocks(tokenizer, load_texts(preset.data.pretrain, args.world_dir), cfg.train.seq_len)
    held = pack_blocks(tokenizer, load_texts(preset.data.heldout, args.world_dir), cfg.train.seq_len,
                       cfg.train.eval_blocks)
    run = continue_pretraining(args.model_dir, train, held, cfg, args.output_dir / "trainer", args.seed, args.method)
    save_once(run.model, args.output_dir / "model", tokenizer)
    print_summary({"steps": run.result.steps, "curve": run.curve})


if __name__ == "__main__":
    main()
