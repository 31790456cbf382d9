"""Stepwise DPO (sDPO, Kim et al., arXiv 2403.19270): the preference data in T chunks, used one after another.

Step t trains on chunk t with DPO, starting from M_{t-1} and with M_{t-1} as the reference (M_0 is the SFT model),
so each step's reference is already aligned by the steps before. Chunks go from easy to hard: sources ordered by the
SFT model's preference accuracy, descending. Every step's merged model is a standard checkpoint in
``<out>/step_<t>/model``; a rerun skips finished steps and resumes an interrupted one from its trainer checkpoint.
One-shot DPO, the baseline, trains on the same pairs for the same total steps against M_0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

from accelerate import PartialState
from transformers import PreTrainedTokenizerBase, TrainerCallback

from solar_utils.alignment.dpo import AlignmentError, DPORun, load_reference, run_dpo, steps_for
from solar_utils.alignment.preferences import Preference
from solar_utils.alignment.rewards import gamma
from solar_utils.checkpoints import save_model, weights_sha256, write_json_atomic
from solar_utils.config import AlignmentConfig
from solar_utils.training.devices import training_device

ORDERS = ("easy_to_hard", "random", "given")
MODEL, RECORD = "model", "step.json"


def partition(pairs_by_source: dict[str, list[Preference]], steps: int, order: str,
              accuracy: dict[str, float] | None = None, seed: int = 0) -> list[list[Preference]]:
    """Split all pairs into ``steps`` consecutive chunks whose sizes differ by at most one.

    ``easy_to_hard`` concatenates the sources by ``accuracy`` (the SFT model's, see :func:`easiness`), highest
    first, so easier sources fill the first chunks; ``given`` keeps the sources' order; ``random`` shuffles all pairs
    with ``seed`` (the paper's random-chunking ablation)."""
    if order not in ORDERS:
        raise AlignmentError(f"unknown sDPO order {order!r}; choose one of {list(ORDERS)}")
    names = list(pairs_by_source)
    if order == "easy_to_hard":
        missing = sorted(set(names) - set(accuracy or {}))
        if missing:
            raise AlignmentError(f"order 'easy_to_hard' needs the SFT model's accuracy on every source; missing "
                                 f"{missing}")
        names.sort(key=lambda name: -accuracy[name])
    pairs = [pair for name in names for pair in pairs_by_source[name]]
    if order == "random":
        random.Random(seed).shuffle(pairs)
    if not 1 <= steps <= len(pairs):
        raise AlignmentError(f"cannot split {len(pairs)} preference pairs into {steps} sDPO steps; align.steps must "
                             f"be between 1 and the number of pairs")
    bounds = [len(pairs) * t // steps for t in range(steps + 1)]
    return [pairs[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class SDPOStep:
    """One sDPO step: its chunk (size, content hash) and optimizer steps; its reference M_{t-1} (folder, weights
    hash, γ on this chunk) beside γ of the SFT model M_0 on the same chunk; the trained model's hash; trl's training
    log (loss, rewards/accuracies, rewards/margins), first and last logged loss, held-out metrics, runtime and the
    checkpoint it resumed from."""

    step: int
    pairs: int
    pairs_sha256: str
    train_steps: int
    reference_dir: str
    reference_sha256: str
    gamma_reference: float
    gamma_sft: float
    model_sha256: str
    train_log: list[dict[str, float]]
    loss_start: float
    loss_end: float
    heldout: dict[str, float]
    train_runtime_s: float
    resumed_from: str | None


@dataclass(frozen=True)
class SDPORun:
    """A finished sDPO run: its steps in order, the final model M_T's folder, and the steps found already done."""

    steps: list[SDPOStep]
    model_dir: Path
    skipped: list[int]

    @property
    def model_sha256(self) -> str:
        return self.steps[-1].model_sha256


def _sha256(chunk: list[Preference]) -> str:
    return hashlib.sha256(json.dumps(chunk, sort_keys=True).encode()).hexdigest()


def _gammas(reference_dir: Path, sft_dir: Path, tokenizer: PreTrainedTokenizerBase, chunk: list[Preference],
            cfg: AlignmentConfig) -> tuple[float, float]:
    """γ of the reference and of the SFT model on (the first ``cfg.gamma_limit`` pairs of) ``chunk``."""
    values = {}
    for folder in dict.fromkeys((reference_dir, sft_dir)):
        model = load_reference(folder, cfg.adapter, training_device())
        values[folder] = gamma(model, tokenizer, chunk[: cfg.gamma_limit], cfg.max_length, cfg.batch_size)
        del model
    return values[reference_dir], values[sft_dir]


def _train_step(step: int, reference_dir: Path, sft_dir: Path, tokenizer: PreTrainedTokenizerBase,
                chunk: list[Preference], cfg: AlignmentConfig, step_dir: Path, seed: int,
                heldout: list[Preference] | None, callbacks: list[TrainerCallback] | None) -> None:
    """Train step ``step`` from and against ``reference_dir``; write its record, then its model (the done mark)."""
    gamma_reference, gamma_sft = _gammas(reference_dir, sft_dir, tokenizer, chunk, cfg)
    run = run_dpo(reference_dir, tokenizer, chunk, cfg, step_dir / "trainer", seed, heldout=heldout,
                  callbacks=callbacks)
    record = SDPOStep(step, len(chunk), _sha256(chunk), run.steps, str(reference_dir), weights_sha256(reference_dir),
                      gamma_reference, gamma_sft, weights_sha256(run.model), run.train_log, run.loss_start,
                      run.loss_end, run.heldout, run.train_runtime_s, run.resumed_from)
    state = PartialState()  # under accelerate launch: the main process writes, every process then reads step t
    if state.is_main_process:
        write_json_atomic(step_dir / RECORD, dataclasses.asdict(record))
        save_model(run.model, step_dir / MODEL, tokenizer=tokenizer)
    state.wait_for_everyone()


def run_sdpo(sft_dir: str | Path, tokenizer: PreTrainedTokenizerBase, chunks: list[list[Preference]],
             cfg: AlignmentConfig, output_dir: str | Path, seed: int, heldout: list[Preference] | None = None,
             callbacks: list[TrainerCallback] | None = None) -> SDPORun:
    """sDPO from the SFT checkpoint ``sft_dir``: step t trains chunk t from and against M_{t-1}. Finished steps (a
    ``step_<t>/model`` folder) are skipped, so a rerun continues where an interrupted run stopped."""
    reference_dir, steps, skipped = Path(sft_dir), [], []
    for step, chunk in enumerate(chunks, start=1):
        step_dir = Path(output_dir) / f"step_{step}"
        if (step_dir / MODEL).is_dir():
            skipped.append(step)
        else:
            _train_step(step, reference_dir, Path(sft_dir), tokenizer, chunk, cfg, step_dir, seed, heldout, callbacks)
        steps.append(SDPOStep(**json.loads((step_dir / RECORD).read_text())))
        if steps[-1].pairs_sha256 != _sha256(chunk):
            raise AlignmentError(f"{step_dir} was trained on other pairs than chunk {step} (other data, order or "
                                 "number of steps); use a fresh output folder")
        reference_dir = step_dir / MODEL
    return SDPORun(steps, reference_dir, skipped)


def one_shot_dpo(sft_dir: str | Path, tokenizer: PreTrainedTokenizerBase, chunks: list[list[Preference]],
                 cfg: AlignmentConfig, output_dir: str | Path, seed: int, heldout: list[Preference] | None = None,
                 callbacks: list[TrainerCallback] | None = None) -> DPORun:
    """The baseline: DPO on all chunks at once against the SFT model, for as many steps as sDPO takes in total."""
    total = sum(steps_for(len(chunk), cfg) for chunk in chunks)
    return run_dpo(sft_dir, tokenizer, [pair for chunk in chunks for pair in chunk], cfg, output_dir, seed,
                   max_steps=total, heldout=heldout, callbacks=callbacks)


def main(argv: list[str] | None = None) -> None:
    """Command line for sDPO (``--one-shot``: DPO on all pairs at once), also under ``accelerate launch``:
    ``python -m solar_utils.alignment.sdpo --preset paper --sft-dir SFT --run-dir RUN --output-dir OUT``.
    The preference data and chunks are notebook 05's (``--world-dir`` for world sources, ``--run-dir`` for earlier
    stages' outputs); the final model is ``OUT/step_<T>/model`` (sDPO) or ``OUT/model`` (DPO), and the main process
    prints a JSON summary."""
    from transformers import AutoTokenizer

    from solar_utils.alignment.preferences import load_preferences
    from solar_utils.alignment.rewards import easiness
    from solar_utils.benchmark_filter import BenchmarkFilter
    from solar_utils.checkpoints import load_for_scoring
    from solar_utils.config import load_preset
    from solar_utils.training.launch import print_summary, save_once, stage_parser

    parser = stage_parser(main.__doc__, "--sft-dir", "the SFT checkpoint, M_0 (notebook 04's model)")
    parser.add_argument("--run-dir", type=Path, help="the run folder (sources whose kind is 'stage')")
    parser.add_argument("--one-shot", action="store_true", help="the baseline: DPO on all chunks at once")
    args = parser.parse_args(argv)
    preset = load_preset(args.preset)
    cfg = preset.align
    tokenizer = AutoTokenizer.from_pretrained(args.sft_dir)
    benchmarks = BenchmarkFilter.for_preset(preset, args.world_dir)
    data = load_preferences(cfg, tokenizer, args.world_dir, args.run_dir, args.seed, keep=benchmarks)
    accuracy = (easiness(load_for_scoring(args.sft_dir), tokenizer, data.heldout, cfg.max_length)
                if cfg.order == "easy_to_hard" else None)
    chunks = partition(data.train, cfg.steps, cfg.order, accuracy, args.seed)
    heldout = [pair for pairs in data.heldout.values() for pair in pairs]
    if args.one_shot:
        run = one_shot_dpo(args.sft_dir, tokenizer, chunks, cfg, args.output_dir / "trainer", args.seed, heldout)
        save_once(run.model, args.output_dir / MODEL, tokenizer)
        summary = {"steps": run.steps, "loss": [run.loss_start, run.loss_end], "model": str(args.output_dir / MODEL)}
    else:
        sdpo = run_sdpo(args.sft_dir, tokenizer, chunks, cfg, args.output_dir, args.seed, heldout)
        summary = {"steps": [s.train_steps for s in sdpo.steps],
                   "gamma": [[s.gamma_reference, s.gamma_sft] for s in sdpo.steps],
                   "references": [s.reference_sha256 for s in sdpo.steps], "model": str(sdpo.model_dir)}
    print_summary({"pairs": [len(c) for c in chunks], "benchmark_filtered": dict(benchmarks.dropped)} | summary)


if __name__ == "__main__":
    main()
