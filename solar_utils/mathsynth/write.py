"""The outputs: Synth. Math-Instruct and Synth. Math-Alignment as JSONL, and a datasheet (Markdown + JSON).

Synth. Math-Alignment follows SOLAR (arXiv 2312.15166, section 3): the prompt is the rephrased question, "chosen"
is the rephrased answer and "rejected" the seed's original answer. Every file is rendered in memory first and
then written atomically, so a failure (for example an empty result) leaves no file behind; the same inputs give
byte-identical files.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from solar_utils.checkpoints import write_text_atomic, write_json_atomic
from solar_utils.jsonl import dumps_jsonl
from solar_utils.mathsynth.records import Generation, Removed
from solar_utils.mathsynth.seeds import Seed
from solar_utils.ngrams import normalise

INSTRUCT_FILE, ALIGNMENT_FILE = "synth_math_instruct.jsonl", "synth_math_alignment.jsonl"


class EmptyResultError(ValueError):
    """A step left no record to write; the message names the step."""


@dataclass
class Funnel:
    """How many records survive each step, and why the others were dropped (per step, per reason)."""

    counts: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, step: str, kept: int, removed: Sequence[Removed] | dict[str, str] = ()) -> None:
        """Record ``kept`` records after ``step``; ``removed`` are Removed records or ``{id: reason}``."""
        reasons = removed.values() if isinstance(removed, dict) else [r.reason for r in removed]
        self.counts[step] = kept
        self.rejections[step] = dict(sorted(Counter(reasons).items()))

    def require_nonempty(self) -> None:
        """Raise naming the first step that left nothing."""
        empty = next((step for step, n in self.counts.items() if n == 0), None)
        if empty is not None:
            raise EmptyResultError(f"step '{empty}' left no records ({self.rejections.get(empty) or 'no input'}); "
                                   "nothing to write")


def _provenance(g: Generation) -> dict[str, Any]:
    return {"seed_id": g.seed_id, "method": g.method, "generator": g.generator, "verified": True}


def instruct_records(generations: Sequence[Generation]) -> list[dict[str, Any]]:
    """Synth. Math-Instruct: ``{"instruction", "response", "provenance"}`` per verified, clean generation."""
    return [{"instruction": g.question, "response": g.solution, "provenance": _provenance(g)} for g in generations]


def alignment_records(generations: Sequence[Generation], seeds: Sequence[Seed]) -> list[dict[str, Any]]:
    """Synth. Math-Alignment from the ``rephrase`` generations: prompt = rephrased question, chosen = rephrased
    answer, rejected = the seed's original answer. A pair whose two answers read the same is skipped."""
    original = {s.id: s.solution for s in seeds}
    return [{"prompt": g.question, "chosen": g.solution, "rejected": original[g.seed_id], "provenance": _provenance(g)}
            for g in generations
            if g.method == "rephrase" and normalise(g.solution) != normalise(original[g.seed_id])]


def _lengths(texts: Sequence[str]) -> dict[str, float]:
    words = [len(t.split()) for t in texts]
    return {"min": min(words), "median": statistics.median(words), "max": max(words)}


def datasheet(funnel: Funnel, instruct: Sequence[dict], alignment: Sequence[dict], generator: str,
              methods: Sequence[str]) -> dict[str, Any]:
    """Counts per step, acceptance rate, rejections by reason and word-length summaries of the outputs."""
    generated = funnel.counts.get("generated", 0)
    return {
        "generator": generator,
        "methods": list(methods),
        "steps": list(funnel.counts),
        "funnel": funnel.counts,
        "rejections": funnel.rejections,
        "acceptance_rate": round(funnel.counts.get("verified", 0) / generated, 4) if generated else 0.0,
        "records": {INSTRUCT_FILE: len(instruct), ALIGNMENT_FILE: len(alignment)},
        "methods_kept": dict(sorted(Counter(r["provenance"]["method"] for r in instruct).items())),
        "words": {"instruction": _lengths([r["instruction"] for r in instruct]),
                  "response": _lengths([r["response"] for r in instruct])},
    }


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    """The datasheet as a short Markdown document."""
    lines = ["# Synth. Math-Instruct / Synth. Math-Alignment: datasheet", "",
             f"Generator: `{sheet['generator']}`; methods: {', '.join(sheet['methods'])} (MetaMath, arXiv 2309.12284).",
             f"Acceptance rate at verification: {sheet['acceptance_rate']:.1%}.", "",
             "| step | records | dropped, by reason |", "|---|---|---|"]
    for step in sheet["steps"]:
        n = sheet["funnel"][step]
        why = ", ".join(f"{reason}: {k}" for reason, k in sheet["rejections"].get(step, {}).items()) or "-"
        lines.append(f"| {step} | {n} | {why} |")
    lines += ["", "| file | records |", "|---|---|"] + [f"| `{f}` | {n} |" for f, n in sheet["records"].items()]
    lines += ["", "Words per record (min / median / max): " + "; ".join(
        f"{k} {v['min']} / {v['median']} / {v['max']}" for k, v in sheet["words"].items()), ""]
    return "\n".join(lines)


def write_outputs(out_dir: Path, funnel: Funnel, generations: Sequence[Generation], seeds: Sequence[Seed],
                  generator: str, methods: Sequence[str]) -> dict[str, Path]:
    """Write both JSONL files and ``datasheet.md`` / ``datasheet.json`` into ``out_dir``; returns their paths.

    Everything is rendered before the first write, and an empty result raises before anything is written.
    """
    funnel.require_nonempty()
    instruct, alignment = instruct_records(generations), alignment_records(generations, seeds)
    if not alignment:
        raise EmptyResultError("step 'alignment': no rephrased generation whose answer differs from its seed's")
    sheet = datasheet(funnel, instruct, alignment, generator, methods)
    texts = {INSTRUCT_FILE: dumps_jsonl(instruct), ALIGNMENT_FILE: dumps_jsonl(alignment),
             "datasheet.md": datasheet_markdown(sheet)}
    paths = {name: write_text_atomic(Path(out_dir) / name, text) for name, text in texts.items()}
    paths["datasheet.json"] = write_json_atomic(Path(out_dir) / "datasheet.json", sheet)
    return paths


def funnel_figure(funnel: Funnel) -> Figure:
    """The funnel as bars: records left after each step."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bars = ax.bar(list(funnel.counts), list(funnel.counts.values()), color="#4C72B0")
    ax.bar_label(bars, fontsize=8)
    ax.tick_params(axis="x", labelsize=9)
    ax.set(ylabel="records", title="Synthetic math: what survives each step")
    return fig


def length_histograms(instruct: Sequence[dict]) -> Figure:
    """Histograms of instruction and response lengths (words) of Synth. Math-Instruct."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("instruction", "response")):
        ax.hist([len(r[key].split()) for r in instruct], bins=20, color="#DD8452")
        ax.set(xlabel=f"{key} length (words)", ylabel="records")
    return fig
