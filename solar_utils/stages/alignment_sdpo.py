"""What notebook 05 shows: which sources fill each sDPO chunk, trl's reward curves step by step, the sDPO paper's
Tables 2-3 (H4 = ARC, HellaSwag, MMLU, TruthfulQA) beside our measurements, with standard errors, and the stage's
claims: alignment lifts SFT (dpo-lift), math preference pairs help (dpo-math), sDPO against DPO (sdpo-vs-dpo) and the
reference handed over step by step (sdpo-reference)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from transformers import PreTrainedTokenizerBase

from solar_utils import claims, paper
from solar_utils.alignment.preferences import Preference
from solar_utils.alignment.rewards import pair_logps
from solar_utils.alignment.sdpo import SDPORun
from solar_utils.checkpoints import load_for_scoring, weights_sha256
from solar_utils.config import MixtureSource
from solar_utils.evaluation import EvalResult, paired_difference
from solar_utils.evaluation.paired import from_gaps, mean_contrast
from solar_utils.h6 import H4_TASKS, TASKS

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


def without_schema(pairs_by_source: dict[str, list[Preference]], sources: list[MixtureSource],
                   schema: str) -> dict[str, list[Preference]]:
    """The training pairs of every source whose schema is not ``schema`` (DPO v1: without Synth. Math-Alignment)."""
    dropped = {s.name for s in sources if s.schema == schema}
    return {name: pairs for name, pairs in pairs_by_source.items() if name not in dropped}


def alignment_claims(results: dict[str, EvalResult], sft: str, dpo: str, dpo_v1: str | None, sdpo: str,
                     random: str) -> dict:
    """dpo-lift (DPO minus SFT in H6 and TruthfulQA), dpo-math (DPO with the math pairs minus ``dpo_v1`` without
    them, H6; skipped without ``dpo_v1``) and sdpo-vs-dpo (H4: sDPO minus DPO, DPO minus random chunks), paired;
    none when the stage scored no models."""
    r = results
    if not r:
        return {}
    measured = {"dpo-lift": claims.judge("dpo-lift", [mean_contrast([r[dpo], r[sft]], [1.0, -1.0], TASKS),
                                                      paired_difference(r[dpo], r[sft], "truthfulqa")])}
    if dpo_v1 is not None:
        measured["dpo-math"] = claims.judge("dpo-math", mean_contrast([r[dpo], r[dpo_v1]], [1.0, -1.0], TASKS))
    measured["sdpo-vs-dpo"] = claims.judge("sdpo-vs-dpo", [mean_contrast([r[sdpo], r[dpo]], [1.0, -1.0], H4_TASKS),
                                                           mean_contrast([r[dpo], r[random]], [1.0, -1.0], H4_TASKS)])
    return measured


def reference_claim(run: SDPORun, sft_dir: str, chunks: list[list[Preference]], tokenizer: PreTrainedTokenizerBase,
                    max_length: int, batch_size: int) -> dict:
    """sdpo-reference: step t's reference is step t-1's model (M_0 = SFT), and on chunk t the new reference's
    log-ratio (chosen minus rejected) exceeds the SFT model's, paired over the chunk's pairs (from step 2 on)."""
    previous = [weights_sha256(sft_dir)] + [s.model_sha256 for s in run.steps[:-1]]
    handover = all(s.reference_sha256 == h for s, h in zip(run.steps, previous, strict=True))

    def ratios(folder: str, pairs: list[Preference]):
        logps = pair_logps(load_for_scoring(folder), tokenizer, pairs, max_length, batch_size)[0]
        return logps[:, 0] - logps[:, 1]

    gaps = [from_gaps(ratios(step.reference_dir, chunk) - ratios(sft_dir, chunk))
            for step, chunk in zip(run.steps[1:], chunks[1:], strict=True)]
    return claims.judge("sdpo-reference", gaps, holds=handover,
                        note=f"reference hashes hand over step by step: {'yes' if handover else 'NO'}")
