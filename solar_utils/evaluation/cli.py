"""The ``eval`` subcommand of ``solar-repro``: score a checkpoint on the H6 tasks and write its results.

``solar-repro eval --model DIR (--data DIR|hub | --preset NAME) --output-dir OUT [--tasks arc,gsm8k]
[--shots arc=5,hellaswag=3] [--limit N] [--batch-size N] [--backend solar|lm-eval] [--paper-row ROW]`` writes
``OUT/results.json`` and ``OUT/samples_<task>.jsonl``. ``--backend lm-eval`` scores with lm-evaluation-harness
itself (:mod:`solar_utils.evaluation.harness_run`) instead of our scorer; ``--paper-row`` prints the scores beside
a row of the paper's Table 2. ``solar_utils.cli`` calls :func:`register` on its subparsers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from solar_utils.evaluation.evaluator import EvalResult, evaluate
from solar_utils.evaluation.scoring import MAX_GEN_TOKS
from solar_utils.evaluation.sources import Source, SourceLike, world_source
from solar_utils.evaluation.tasks import TASKS, get_task


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eval`` to an ``argparse`` subparsers object; the parsed namespace's ``func`` runs it."""
    parser = subparsers.add_parser("eval", help="score a checkpoint on the H6 tasks (leaderboard-v1 settings)")
    parser.add_argument("--model", type=Path, required=True, help="a local HF causal-LM checkpoint folder")
    parser.add_argument("--output-dir", type=Path, required=True, help="where results.json and samples go")
    parser.add_argument("--tasks", type=_task_list, default=TASKS, help=f"comma-separated, of {','.join(TASKS)}")
    parser.add_argument("--data", default=None, help="a JSONL task folder (<task>.jsonl), or 'hub'")
    parser.add_argument("--preset", default=None, help="without --data: build this preset's tiny world in memory")
    parser.add_argument("--world-seed", type=int, default=1234, help="seed of the tiny world (with --preset)")
    parser.add_argument("--shots", type=_shots, default=None, help="few-shot overrides, e.g. arc=5,hellaswag=3")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N items of each task")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-gen-toks", type=int, default=MAX_GEN_TOKS, help="GSM8K generation budget")
    parser.add_argument("--seed", type=int, default=1234, help="few-shot sampling seed")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--backend", choices=("solar", "lm-eval"), default="solar",
                        help="solar: our scorer (agrees with the harness item by item); lm-eval: the harness itself "
                             "(its leaderboard tasks with --data hub; its --limit counts per MMLU subject)")
    parser.add_argument("--paper-row", default=None,
                        help="print the scores beside this row of the paper's Table 2 (e.g. 'SOLAR 10.7B-Instruct')")
    parser.set_defaults(func=run_eval)
    return parser


def preset_source(preset: str, world_seed: int) -> Source:
    """The hook from a preset to its evaluation items: the preset's tiny world (``data.world``), in memory."""
    from solar_utils.config import load_preset

    return world_source(world_seed, load_preset(preset).data.world)


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from solar_utils.checkpoints import atomic_dir

    source: SourceLike
    if args.data is not None:
        source = args.data
    elif args.preset is not None:
        source = preset_source(args.preset, args.world_seed)
    else:
        raise ValueError("eval: give --data DIR (or --data hub) or --preset NAME")
    check_output_dir(args.output_dir)
    paper_row = None if args.paper_row is None else table2_row(args.paper_row)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    result = (_harness if args.backend == "lm-eval" else _ours)(args, source, device)
    with atomic_dir(args.output_dir, overwrite=True) as tmp:  # a rerun leaves no samples of an earlier model
        result.write(tmp)
    print(format_result(result) if paper_row is None else format_comparison(result, args.paper_row, paper_row))
    print(f"results written to {args.output_dir / 'results.json'}")
    return 0


def _ours(args: argparse.Namespace, source: SourceLike, device: str) -> EvalResult:
    from transformers import AutoTokenizer

    from solar_utils.checkpoints import load_model

    model = load_model(args.model, dtype="auto").to(device)  # validates the folder first: safetensors only
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    return evaluate(model, tokenizer, args.tasks, source=source, num_fewshot=args.shots,
                    batch_size=args.batch_size, limit=args.limit, seed=args.seed, max_gen_toks=args.max_gen_toks)


def _harness(args: argparse.Namespace, source: SourceLike, device: str) -> EvalResult:
    """lm-evaluation-harness on ``--data`` (hub or a folder); a preset's in-memory world is written out first."""
    import tempfile

    from solar_utils.evaluation.harness_run import harness_evaluate
    from solar_utils.evaluation.sources import dump_source

    with tempfile.TemporaryDirectory(prefix="solar_eval_") as tmp:
        if not isinstance(source, (str, os.PathLike)):
            source = dump_source(source, Path(tmp) / "data")
        return harness_evaluate(args.model, args.tasks, data=source, num_fewshot=args.shots, limit=args.limit,
                                batch_size=args.batch_size, seed=args.seed, device=device,
                                max_gen_toks=args.max_gen_toks)


def check_output_dir(path: Path) -> None:
    """Refuse, before any scoring, an output folder that cannot take the results: a file, a folder holding anything
    but an earlier evaluation's ``results.json`` and ``samples_*.jsonl`` (which a rerun replaces), or an unwritable
    place."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--output-dir {path} is a file; give a folder (new, or one an earlier eval wrote).")
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if p.name != "results.json"
                        and not (p.name.startswith("samples_") and p.suffix == ".jsonl"))
        if others:
            raise ValueError(f"--output-dir {path} holds other files ({', '.join(others[:3])}); the results replace "
                             "the whole folder, so give a new folder or one an earlier eval wrote.")
    parent = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--output-dir {path}: cannot write under {parent}; choose a folder you can write to.")


def format_result(result: EvalResult) -> str:
    """A small text table: task, shots, items, score ± stderr (in %), then H6."""
    lines = [f"{'task':<12}{'shots':>6}{'items':>7}  score"]
    for task, score in result.scores.items():
        shots, items = result.settings["num_fewshot"][task], len(result.samples[task])
        lines.append(f"{task:<12}{shots:>6}{items:>7}  {100 * score:6.2f} ± {100 * result.stderrs[task]:.2f}")
    if result.h6 is not None:
        lines.append(f"{'H6':<25}  {100 * result.h6:6.2f}")
    return "\n".join(lines)


def table2_row(row: str) -> dict[str, float]:
    """The paper's Table 2 row ``row`` (a clear error listing the rows when it has none such)."""
    from solar_utils import paper

    rows = paper.table("table2")
    if row not in rows:
        raise ValueError(f"--paper-row {row!r}: Table 2 has no such row; rows: {', '.join(map(repr, rows))}")
    return rows[row]


def format_comparison(result: EvalResult, row: str, paper_row: dict[str, float]) -> str:
    """Our scores (in %, ± stderr) beside the paper's Table 2 row, with the difference, then H6."""
    lines = [f"{'task':<12}{'items':>7}  {'ours':>14}  {'paper':>6}  {'ours - paper':>12}"]
    for task, score in result.scores.items():
        ours = f"{100 * score:6.2f} ± {100 * result.stderrs[task]:.2f}"
        lines.append(f"{task:<12}{len(result.samples[task]):>7}  {ours:>14}  {paper_row[task]:6.2f}  "
                     f"{100 * score - paper_row[task]:+12.2f}")
    if result.h6 is not None:
        lines.append(f"{'H6':<19}  {100 * result.h6:14.2f}  {paper_row['h6']:6.2f}  "
                     f"{100 * result.h6 - paper_row['h6']:+12.2f}")
    return "\n".join([f"beside the paper's Table 2 row {row!r}", *lines])


def _task_list(text: str) -> tuple[str, ...]:
    try:
        return tuple(get_task(t.strip()).name for t in text.split(",") if t.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _shots(text: str) -> dict[str, int]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        task, _, value = part.partition("=")
        try:
            out[get_task(task.strip()).name] = int(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"bad --shots entry {part!r}: use task=N ({err})") from err
    return out
