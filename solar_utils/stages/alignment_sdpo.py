"""What notebook 05 shows: which sources fill each sDPO chunk, trl's reward curves step by step, and the sDPO
paper's Tables 2-3 (H4 = ARC, HellaSwag, MMLU, TruthfulQA) beside our measurements, with standard errors."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from solar_utils import paper
from solar_utils.alignment.preferences import Preference
from solar_utils.h6 import H4_TASKS

# sDPO paper (arXiv 2403.19270v2), Tables 2-3 (solar_utils/paper.yaml): SOLAR 10.7B after SFT, then aligned on the
# same data three ways.
PAPER_SDPO_H4 = {name: row["h4"] for name, row in paper.table("sdpo_h4").items()}


def chunk_sources(chunks: list[list[Preference]], pairs_by_source: dict[str, list[Preference]]) -> list[dict[str, int]]:
    """How many pairs of each source every chunk holds (pairs are matched by identity, as :func:`partition` keeps
    them)."""
    source_of = {id(pair): name for name, pairs in pairs_by_source.items() for pair in pairs}
    return [dict(Counter(source_of[id(pair)] for pair in chunk)) for chunk in chunks]


def h4(scores: dict[str, float], stderrs: dict[str, float]) -> tuple[float, float]:
    """H4 (mean of ARC, HellaSwag, MMLU and TruthfulQA, in %) and its standard error (tasks independent)."""
    value = sum(scores[t] for t in H4_TASKS) / len(H4_TASKS)
    error = math.sqrt(sum(stderrs[t] ** 2 for t in H4_TASKS)) / len(H4_TASKS)
    return 100 * value, 100 * error


def difference(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """``a - b`` of two (value, standard error) pairs, with the standard error of the difference."""
    return a[0] - b[0], math.hypot(a[1], b[1])


def verdict(gap: tuple[float, float], z: float = 2.0) -> str:
    """Which of sDPO and DPO is ahead, given ``gap`` = (sDPO − DPO, its standard error): only a gap beyond ``z``
    standard errors counts."""
    value, error = gap
    if value > z * error:
        return "sDPO is ahead"
    if value < -z * error:
        return "DPO is ahead"
    return "no difference we can measure"


def steps_table(runs: dict[str, Any]) -> str:
    """A Markdown table of every sDPO step: its reference (M_{t-1}), the reference's weights hash, and γ of the
    reference beside γ of the SFT model M_0 on the same chunk. ``runs`` maps a name to an :class:`SDPORun`."""
    lines = ["| run | step | reference | reference hash | γ of reference | γ of M_0 (same chunk) |", "|---" * 6 + "|"]
    for name, run in runs.items():
        for s in run.steps:
            reference = "M_0 (SFT)" if s.step == 1 else f"M_{s.step - 1}"
            lines.append(f"| {name} | {s.step} | {reference} | `{s.reference_sha256[:12]}` | {s.gamma_reference:.2f} | "
                         f"{s.gamma_sft:.2f} |")
    return "\n".join(lines)


def reward_curves(logs: dict[str, list[list[dict[str, float]]]]) -> Figure:
    """trl's logged reward accuracy and margin against the optimizer step, one line per run; a run given as several
    segments (sDPO's steps) is drawn end to end with a dotted line where a new step (and reference) begins."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, segments in logs.items():
        offset, xs, accuracy, margin = 0, [], [], []
        for k, segment in enumerate(segments):
            if k:
                for ax in axes:
                    ax.axvline(offset, color="grey", linestyle=":", linewidth=1)
            xs += [offset + e["step"] for e in segment]
            accuracy += [e["rewards/accuracies"] for e in segment]
            margin += [e["rewards/margins"] for e in segment]
            offset += segment[-1]["step"]
        axes[0].plot(xs, accuracy, "o-", markersize=3, label=name)
        axes[1].plot(xs, margin, "o-", markersize=3, label=name)
    axes[0].set(xlabel="optimizer step", ylabel="reward accuracy (training batches)", ylim=(0, 1.05))
    axes[1].set(xlabel="optimizer step", ylabel="reward margin (nats × β)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("DPO rewards as trl logs them (dotted: a new sDPO step, with a new reference)")
    fig.tight_layout()
    return fig


def sdpo_table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table in the layout of the sDPO paper's Tables 2-3: per model H4 ± stderr, its four tasks, our H6
    and held-out preference accuracy, and the paper's H4 for the row of the same name. ``rows[name]`` holds
    ``scores``, ``stderrs``, ``h6`` and ``preference_accuracy`` (fractions)."""
    header = "| model | H4 | ARC | HellaSwag | MMLU | TruthfulQA | H6 | held-out pref. acc. | *paper H4* |"
    lines = [header, "|---" * 9 + "|"]
    for name, row in rows.items():
        value, error = h4(row["scores"], row["stderrs"])
        tasks = [f"{100 * row['scores'][t]:.1f} ± {100 * row['stderrs'][t]:.1f}" for t in H4_TASKS]
        paper = PAPER_SDPO_H4.get(name)
        lines.append(f"| {name} | {value:.1f} ± {error:.1f} | " + " | ".join(tasks)
                     + f" | {100 * row['h6']:.1f} | {100 * row['preference_accuracy']:.1f} | "
                     + (f"*{paper:.2f}*" if paper is not None else "–") + " |")
    return "\n".join(lines)
