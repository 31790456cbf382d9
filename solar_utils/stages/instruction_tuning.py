"""Notebook 04's report: each SFT variant's mixture, and our variants beside the paper's Table 3."""

from __future__ import annotations

from typing import Any

from solar_utils import paper
from solar_utils.config import MixtureSource
from solar_utils.mixing import Mixture

# Paper Table 3 (instruction-tuning ablations; solar_utils/paper.yaml): H6 and GSM8K where the paper reports them,
# and where this package builds the row that is not an SFT run.
_BUILT_IN = {"v3+v4": " (notebook 06)"}
PAPER_TABLE3 = {name: {**row, "data": row["data"] + _BUILT_IN.get(name, "")}
                for name, row in paper.table("table3").items()}


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
