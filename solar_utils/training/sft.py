"""Instruction tuning with trl's ``SFTTrainer`` on a mixture of chat examples (paper Sec. 3.1, Table 3).

The loss covers the assistant's answer only (prompt/completion examples); held-out instruction loss is measured
before and after training on examples kept apart from every source. Chat examples are rendered with the chat
template into prompt and completion strings, so that plain-text examples (replayed documents, an empty prompt) can
share their dataset: trl takes one dataset as all chat or all text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, set_seed
from trl import SFTConfig, SFTTrainer

from solar_utils.config import InstructConfig
from solar_utils.training.adapters import load_for_training, merge_adapters
from solar_utils.training.arguments import trainer_arguments
from solar_utils.training.devices import training_device
from solar_utils.records import Example, MixtureError
from solar_utils.quiet import quietly
from solar_utils.resume import train_resumable


@dataclass(frozen=True)
class SFTRun:
    """A finished SFT run: the merged standard model, held-out instruction loss before/after, the log."""

    model: PreTrainedModel
    heldout_loss_before: float
    heldout_loss_after: float
    log_history: list[dict[str, Any]]
    steps: int
    train_runtime_s: float
    resumed_from: str | None


def sft_arguments(cfg: InstructConfig, output_dir: Path, seed: int, device: torch.device) -> SFTConfig:
    """trl settings from the preset: cosine decay, examples cut at ``max_length`` (the shared settings, with
    device-aware precision: :func:`~solar_utils.training.arguments.trainer_arguments`)."""
    return trainer_arguments(SFTConfig, cfg, output_dir, seed, device, max_steps=cfg.max_steps,
                             lr_scheduler_type="cosine", weight_decay=cfg.weight_decay, max_length=cfg.max_length)


def check_trainable(tokenizer: PreTrainedTokenizerBase, n_examples: int, cfg: InstructConfig, what: str) -> None:
    """Fail fast on a tokenizer without a chat template, or fewer examples than the steps would consume."""
    if not tokenizer.chat_template:
        raise MixtureError(f"{what}: the tokenizer ({tokenizer.name_or_path or type(tokenizer).__name__}) has no "
                           "chat_template; set tokenizer.chat_template before instruction tuning")
    needed = cfg.max_steps * cfg.batch_size
    if n_examples < needed:
        raise MixtureError(f"{what}: {n_examples} examples, fewer than instruct.max_steps × instruct.batch_size = "
                           f"{cfg.max_steps} × {cfg.batch_size} = {needed}; lower max_steps or raise the weights")


def as_text(example: Example, tokenizer: PreTrainedTokenizerBase) -> dict[str, str]:
    """``example`` as prompt and completion strings: a chat example rendered with the chat template (the prompt up to
    the assistant's turn, the completion up to its end-of-turn), a text example as it is."""
    if isinstance(example["prompt"], str):
        return {"prompt": example["prompt"], "completion": example["completion"]}
    prompt = tokenizer.apply_chat_template(example["prompt"], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    if not full.startswith(prompt):
        raise MixtureError(f"the chat template renders the prompt {prompt!r} differently inside the whole chat; "
                           "instruction tuning needs a template whose generation prompt prefixes the answer")
    return {"prompt": prompt, "completion": full[len(prompt):].rstrip()}


@quietly
def instruction_tune(model_dir: str | Path, tokenizer: PreTrainedTokenizerBase, train: list[Example],
                     heldout: list[Example], cfg: InstructConfig, output_dir: str | Path, seed: int,
                     callbacks: list[TrainerCallback] | None = None) -> SFTRun:
    """SFT of the checkpoint at ``model_dir`` on ``train`` with ``cfg.adapter``'s method; resumes from the newest
    checkpoint in ``output_dir``. Returns the merged model and held-out loss before and after."""
    check_trainable(tokenizer, len(train), cfg, str(output_dir))
    device = training_device()
    set_seed(seed)  # adapters start the same in a fresh and a resumed run
    model = load_for_training(model_dir, cfg.adapter, device, cfg.gradient_checkpointing)
    trainer = SFTTrainer(model=model, args=sft_arguments(cfg, Path(output_dir), seed, device),
                         train_dataset=Dataset.from_list([as_text(e, tokenizer) for e in train]),
                         eval_dataset=Dataset.from_list([as_text(e, tokenizer) for e in heldout]),
                         processing_class=tokenizer, callbacks=callbacks)
    before = trainer.evaluate()["eval_loss"]
    runtime, last = train_resumable(trainer, output_dir)
    after = trainer.evaluate()["eval_loss"]
    return SFTRun(merge_adapters(trainer.model, model_dir), before, after, trainer.state.log_history,
                  trainer.state.global_step, round(runtime, 1), last)


@torch.no_grad()
def chat_replies(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, questions: list[str],
                 max_new_tokens: int = 48) -> list[str]:
    """Greedy replies to single-turn ``questions``, rendered with the model's chat template."""
    replies = []
    for question in questions:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True).to(model.device)
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
        replies.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return replies


def main(argv: list[str] | None = None) -> None:
    """Command line for one SFT variant, also under ``accelerate launch`` (one process per device):
    ``python -m solar_utils.training.sft --preset paper --model-dir START --run-dir RUN --variant v3 --output-dir OUT``.
    The mixture is notebook 04's (``--world-dir`` for world sources, ``--run-dir`` for earlier stages' outputs);
    the main process saves the merged model to ``OUT/model`` and prints a JSON summary."""
    from transformers import AutoTokenizer

    from solar_utils.benchmark_filter import BenchmarkFilter
    from solar_utils.config import load_preset
    from solar_utils.training.launch import print_summary, save_once, stage_parser
    from solar_utils.training.mixture import load_pools, trained_as, variant_mixture

    parser = stage_parser(main.__doc__, "--model-dir", "the checkpoint to tune (notebook 02's model)")
    parser.add_argument("--run-dir", type=Path, help="the run folder (sources whose kind is 'stage')")
    parser.add_argument("--variant", help="an instruct.variants name (default: instruct.main)")
    args = parser.parse_args(argv)
    preset = load_preset(args.preset)
    cfg = preset.instruct
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    benchmarks = BenchmarkFilter.for_preset(preset, args.world_dir)
    pools = load_pools(cfg, args.world_dir, args.run_dir, args.seed, keep=benchmarks)
    variant = trained_as(cfg, pools, args.variant or cfg.main)
    mixture = variant_mixture(cfg, variant, pools, args.seed)
    run = instruction_tune(args.model_dir, tokenizer, mixture.examples, pools.heldout, cfg,
                           args.output_dir / "trainer", args.seed)
    save_once(run.model, args.output_dir / "model", tokenizer)
    print_summary({"variant": variant, "steps": run.steps, "used": mixture.used,
                   "benchmark_filtered": dict(benchmarks.dropped),
                   "heldout_loss": [run.heldout_loss_before, run.heldout_loss_after]})


if __name__ == "__main__":
    main()
