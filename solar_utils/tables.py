"""Markdown tables of a stage's results: its headline numbers and its claims' verdicts, as notebooks and the
runner's ``summary.md`` show them. No heavy imports: the runner uses these before any kernel starts."""

from __future__ import annotations

from typing import Any


def headline_table(headline: dict[str, Any]) -> list[str]:
    """A stage's ``headline`` numbers as the lines of a two-column Markdown table (empty without numbers)."""
    if not headline:
        return []
    rows = (f"| {markdown_cell(label)} | {markdown_cell(value)} |" for label, value in headline.items())
    return ["| measure | value |", "|---|---|", *rows]


def what_we_measured(metrics: dict[str, Any]) -> str:
    """What a notebook's last cell shows: its ``headline`` table, then each of its claims with its verdict."""
    lines = headline_table(metrics.get("headline") or {})
    verdicts = [f"- **{cid}**: {markdown_cell(r.get('ours'))} — *{r.get('verdict')}*"
                for cid, r in (metrics.get("claims") or {}).items()]
    if verdicts:
        lines += ["", "Claims:", "", *verdicts]
    return "\n".join(lines) or "This stage recorded no headline numbers."


def markdown_cell(value: Any) -> str:
    """A value as the text of one Markdown table cell (``—`` for none, floats to four significant digits)."""
    if value is None:
        return "—"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")
