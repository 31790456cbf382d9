"""Notebook 07's report: which models a run produced, the H6 table in the paper's Table 2 layout, and its plot;
the training text the run used (for the contamination check) and the decontamination claim, and every claim of the
run in one table and one figure."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from solar_utils import claims, paper
from solar_utils.config import Preset
from solar_utils.data import load_texts
from solar_utils.evaluation.evaluator import EvalResult
from solar_utils.evaluation.tasks import TASKS

COLUMNS = TASKS
HEADERS = ("ARC", "HellaSwag", "MMLU", "TruthfulQA", "Winogrande", "GSM8K")
# Paper Table 2 (H6 and the six tasks, in %; solar_utils/paper.yaml), for reference beside our rows.
PAPER_TABLE2 = {name: tuple(row[c] for c in ("h6", *COLUMNS)) for name, row in paper.table("table2").items()}


def run_models(run_dir: Path) -> dict[str, Path]:
    """Every standard checkpoint a run's stages saved as ``<stage>/model``, in pipeline order."""
    return {stage.name: stage / "model" for stage in sorted(Path(run_dir).iterdir())
            if (stage / "model" / "config.json").is_file()}


def chance_levels(items: dict[str, list[dict]]) -> dict[str, float]:
    """What a model guessing uniformly scores per task on these items (mc2: the share of true answers)."""
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return {
        "arc": mean([1 / len(i["choices"]["text"]) for i in items["arc"]]),
        "hellaswag": mean([1 / len(i["endings"]) for i in items["hellaswag"]]),
        "mmlu": mean([1 / len(i["choices"]) for i in items["mmlu"]]),
        "truthfulqa": mean([sum(i["mc2_targets"]["labels"]) / len(i["mc2_targets"]["labels"])
                            for i in items["truthfulqa"]]),
        "winogrande": 0.5,
        "gsm8k": 0.0,
    }


def above_chance(result: EvalResult, chance: dict[str, float], z: float = 2.0) -> dict[str, bool]:
    """Per task: is the score more than ``z`` standard errors above chance?"""
    return {task: result.scores[task] - z * result.stderrs[task] > chance[task] for task in result.scores}


def h6_table(results: dict[str, EvalResult], chance: dict[str, float] | None = None) -> str:
    """A Markdown table in the layout of paper Table 2: our models (score ± stderr), chance, then the paper's."""
    lines = ["| model | H6 | " + " | ".join(HEADERS) + " |", "|---" * (len(HEADERS) + 2) + "|"]
    for name, result in results.items():
        cells = [f"{100 * result.scores[t]:.1f} ± {100 * result.stderrs[t]:.1f}" for t in COLUMNS]
        lines.append(f"| {name} | {100 * result.h6:.2f} | " + " | ".join(cells) + " |")
    if chance:
        values = [100 * chance[t] for t in COLUMNS]
        lines.append(f"| chance | {sum(values) / len(values):.2f} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    for name, row in PAPER_TABLE2.items():
        lines.append(f"| *paper: {name}* | {row[0]:.2f} | " + " | ".join(f"{v:.2f}" for v in row[1:]) + " |")
    return "\n".join(lines)


def h6_figure(results: dict[str, EvalResult], chance: dict[str, float] | None = None) -> Figure:
    """Grouped bars: one group per task (and H6), one bar per model, with chance as short black lines."""
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(1, len(results))
    labels = [*HEADERS, "H6"]
    for k, (name, result) in enumerate(results.items()):
        values = [100 * result.scores[t] for t in COLUMNS] + [100 * result.h6]
        errors = [100 * result.stderrs[t] for t in COLUMNS] + [0.0]
        ax.bar([i + k * width for i in range(len(labels))], values, width, yerr=errors, label=name, capsize=2)
    if chance:
        for i, task in enumerate(COLUMNS):
            ax.hlines(100 * chance[task], i - 0.1, i + 0.9 - 0.1, colors="black", linewidth=1)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels)
    ax.set(ylabel="score (%)", title="Mini-H6 (black lines: chance)", ylim=(0, 105))
    ax.legend(fontsize=8)
    return fig


def training_texts(preset: Preset, world_dir: Path, run_dir: Path) -> Iterator[str]:
    """Every training text of the run, for the contamination check: the tiny world's files (all but ``eval/``,
    whole: the world must be clean before any filter), notebook 03's synthetic math data, and each hub source the
    preset trains on, read again as the stages read it (at its cap, held-out rows included, instruction and
    preference records through the run's benchmark filter; streamed, nothing kept)."""
    from solar_utils.benchmark_filter import BenchmarkFilter
    from solar_utils.mathsynth.seeds import read_hub_seeds
    from solar_utils.records import read_records

    world_dir, run_dir = Path(world_dir), Path(run_dir)
    files = sorted(p for p in world_dir.rglob("*.jsonl") if "eval" not in p.relative_to(world_dir).parts)
    for path in files + sorted(run_dir.glob("03_synthetic_math/*.jsonl")):
        yield from path.read_text().splitlines()
    for text in (preset.data.pretrain, preset.instruct.replay, preset.merging.math_text):
        if text is not None and text.kind == "hub":
            yield from load_texts(text)
    keep = BenchmarkFilter.for_preset(preset, world_dir)
    for sources, held in ((preset.instruct.sources, preset.instruct.heldout_per_source),
                          (preset.merging.instruction_sources, 0),
                          (preset.align.sources, preset.align.heldout_per_source)):
        for source in (s for s in sources if s.kind == "hub"):
            records = read_records(source, None, None, schemas=(source.schema,), extra=held, keep=keep)
            yield from map(json.dumps, records)
    if preset.mathsynth.source == "hub":
        yield from map(json.dumps, read_hub_seeds(preset.mathsynth))


def decontam_claim(contamination: dict[str, dict[str, Any]]) -> dict:
    """decontam: evaluation items sharing an n-gram with any training file, over every task."""
    hits = sum(task["contaminated"] for task in contamination.values())
    items = sum(task["items"] for task in contamination.values())
    return claims.judge("decontam", hits, note=f"{hits} of {items} evaluation items share an n-gram with training data")


def run_claims(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every claim the run's stages measured (their ``metrics.json``), in the registry's order."""
    found: dict[str, dict[str, Any]] = {}
    for metrics in sorted(Path(run_dir).glob("*/metrics.json")):
        found |= json.loads(metrics.read_text()).get("claims") or {}
    return {cid: found[cid] for cid in claims.registry() if cid in found}


VERDICT_COLOURS = {"reproduced": "#55A868", "not reproduced": "#C44E52", "unresolved": "#8C8C8C"}


def claims_figure(records: dict[str, dict[str, Any]], z: float = 2.0) -> Figure:
    """Each measured difference in units of its paired standard error (the rules' scale), coloured by its claim's
    verdict; the dashed lines are ±z. Claims decided by an exact value or a bound are listed at the right."""
    rows = []
    for cid, r in records.items():
        values, errors = r["value"], r["stderr"]
        if errors is None:
            continue
        pairs = list(zip(values, errors, strict=True)) if isinstance(values, list) else [(values, errors)]
        for k, (v, e) in enumerate(pairs):
            label = cid if len(pairs) == 1 else f"{cid} ({k + 1})"
            rows.append((label, v / e if e and not math.isnan(e) else math.nan, r["verdict"]))
    others = [f"{cid}: {r['ours']} ({r['verdict']})" for cid, r in records.items() if r["stderr"] is None]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.6))
    for i, (_, zval, verdict) in enumerate(rows):
        ax.barh(i, 0 if math.isnan(zval) else zval, color=VERDICT_COLOURS[verdict])
    for x in (-z, z):
        ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("difference / paired standard error (the paper's direction is positive)")
    ax.set_title("The paper's claims at tiny scale")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLOURS.values()]
    ax.legend(handles, VERDICT_COLOURS, fontsize=8, loc="lower right")
    if others:
        fig.text(0.99, 0.01, "\n".join(others), ha="right", va="bottom", fontsize=7)
    fig.tight_layout()
    return fig
