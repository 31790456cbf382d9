"""What notebooks 02 and 04 show: loss curves of several runs, mini-H6 scores, and paper Table 3 beside ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from solar_utils.config import EvalConfig, MixtureSource
from solar_utils.training.mixture import Mixture

# Paper Table 3 (instruction-tuning ablations): H6 and GSM8K where the paper reports them.
PAPER_TABLE3 = {
    "v1": {"data": "Alpaca-GPT4", "h6": 69.15},
    "v2": {"data": "Alpaca-GPT4 + OpenOrca", "h6": 69.21},
    "v3": {"data": "Alpaca-GPT4 + OpenOrca + Synth. Math-Instruct", "h6": 70.03, "gsm8k": 64.14},
    "v4": {"data": "Alpaca-GPT4 + Synth. Math-Instruct", "h6": 70.88, "gsm8k": 64.75},
    "v3+v4": {"data": "weight average of v3 and v4 (notebook 06)", "h6": 71.11, "gsm8k": 66.57},
}


def loss_curves(curves: dict[str, list[tuple[int, float]]], baselines: dict[str, float] | None = None,
                title: str = "", ylabel: str = "held-out loss (nats/token)") -> Figure:
    """One line per run (step, loss), with horizontal reference lines (e.g. the base model's loss)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, curve in curves.items():
        ax.plot(*zip(*curve), "o-", markersize=3, label=label)
    for (label, value), style in zip((baselines or {}).items(), ("--", ":", "-.")):
        ax.axhline(value, color="black", linestyle=style, linewidth=1, label=f"{label} ({value:.3f})")
    ax.set(xlabel="step", ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def evaluate_models(models: dict[str, PreTrainedModel], tokenizer: PreTrainedTokenizerBase, source: str | Path,
                    limit: int, seed: int, settings: EvalConfig) -> dict[str, Any] | None:
    """Each model's :class:`~solar_utils.evaluation.EvalResult` on the H6 tasks (``limit`` items per task, shots and
    generation length from the preset's ``eval`` section, as notebook 07 scores), or None when ``limit`` is 0 or
    the evaluator (:mod:`solar_utils.evaluation`) is not installed."""
    if limit <= 0:
        return None
    try:
        from solar_utils.evaluation import evaluate
    except ImportError:
        return None
    return {name: evaluate(model, tokenizer, source=source, num_fewshot=settings.num_fewshot or None, limit=limit,
                           batch_size=settings.batch_size, max_gen_toks=settings.max_gen_toks, seed=seed,
                           progress=False)
            for name, model in models.items()}


def mini_h6(models: dict[str, PreTrainedModel], tokenizer: PreTrainedTokenizerBase, source: str | Path,
            limit: int, seed: int, settings: EvalConfig) -> dict[str, dict[str, float]] | None:
    """Scores of each model on the H6 tasks and their mean (``h6``), as :func:`evaluate_models` measures them."""
    results = evaluate_models(models, tokenizer, source, limit, seed, settings)
    return None if results is None else {name: {**r.scores, "h6": r.h6} for name, r in results.items()}


def mixture_table(mixtures: dict[str, Mixture], sources: list[MixtureSource]) -> str:
    """A Markdown table of each variant's mixture: per source, the examples used / available, and the total."""
    lines = ["| variant | " + " | ".join(f"{s.name} (used / available)" for s in sources) + " | total |",
             "|---" * (len(sources) + 2) + "|"]
    for name, mixture in mixtures.items():
        cells = [f"{mixture.used.get(s.name, 0)} / {mixture.available.get(s.name, 0)}" for s in sources]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(mixture.examples)} |")
    return "\n".join(lines)


def table3(ours: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: our SFT variants' measurements beside the paper's Table 3 rows of the same name."""
    columns = sorted({key for row in ours.values() for key in row})
    lines = ["| variant | paper data | paper H6 | paper GSM8K | " + " | ".join(columns) + " |",
             "|---" * (4 + len(columns)) + "|"]
    for name in list(PAPER_TABLE3) + [n for n in ours if n not in PAPER_TABLE3]:
        paper, row = PAPER_TABLE3.get(name, {}), ours.get(name, {})
        cells = [_cell(row.get(c)) for c in columns]
        lines.append(f"| {name} | {paper.get('data', '')} | {_cell(paper.get('h6'))} | {_cell(paper.get('gsm8k'))} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
