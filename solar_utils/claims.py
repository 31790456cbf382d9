"""The paper's claims as checks: the registry (``claims.yaml``), and the verdict of one measurement against its rule.

A notebook measures each of its claims and writes ``judge(claim_id, measured)`` under ``claims`` in its
``metrics.json``; the record says what the paper found (read from ``paper.yaml``), what we measured with its
paired standard error, the rule, and the verdict: ``reproduced``, ``not reproduced`` or ``unresolved`` (the error
is too large to tell). The verdict is computed here, never typed into a notebook.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from solar_utils import paper
from solar_utils.evaluation.paired import Difference

CLAIMS_FILE = Path(__file__).with_name("claims.yaml")
VERDICTS = ("reproduced", "not reproduced", "unresolved")
_FIGURE = re.compile(r"\{([^{}|]+)\|([^{}|]+)\|([^{}|]+)\}")
_SCALE = {"points": 100.0}  # score differences are fractions; shown in points


@dataclass(frozen=True)
class Claim:
    """One claim of the registry (see ``claims.yaml`` for the fields and the rules)."""

    id: str
    claim: str
    source: str
    paper: str
    notebook: str
    measure: str
    unit: str
    rule: dict[str, Any]

    @property
    def paper_figure(self) -> str:
        """``paper`` with every ``{table|row|column}`` replaced by the figure from ``paper.yaml``."""
        return _FIGURE.sub(lambda m: f"{paper.figure(m[1], m[2], m[3]):g}", self.paper)

    def rule_text(self, bound: Any = None) -> str:
        kind, z = self.rule["kind"], self.rule.get("z", 2)
        return {"positive": f"reproduced if > {z:g} paired standard errors in the paper's direction",
                "all_positive": f"reproduced if every difference is > {z:g} paired standard errors in the paper's "
                                "direction",
                "exact": f"reproduced if exactly {self.rule.get('expected', 'as the paper')}",
                "at_most": f"reproduced if at most {bound if bound is not None else self.rule.get('bound')}"}[kind]


@cache
def registry() -> dict[str, Claim]:
    """Every claim of ``claims.yaml``, by id, in pipeline order."""
    raw = yaml.safe_load(CLAIMS_FILE.read_text(encoding="utf-8"))
    return {cid: Claim(id=cid, **fields) for cid, fields in raw.items()}


def claims_of(notebook: str) -> list[Claim]:
    """The claims that ``notebook`` (a stage name such as ``02_continued_pretraining``) measures."""
    return [c for c in registry().values() if c.notebook == notebook]


def get(claim_id: str) -> Claim:
    if claim_id not in registry():
        raise KeyError(f"no claim {claim_id!r} in {CLAIMS_FILE.name}; claims: {', '.join(registry())}")
    return registry()[claim_id]


Measured = Difference | Sequence[Difference] | Any


def judge(claim_id: str, measured: Measured, *, expected: Any = None, bound: Any = None,
          units: Sequence[str] | None = None, holds: bool = True, note: str | None = None) -> dict[str, Any]:
    """The claim's record for ``metrics.json``: the claim, the paper's figure, ``measured`` and the verdict.

    ``measured`` is a :class:`Difference` for ``positive``, a list of them for ``all_positive`` (``units`` names
    each one's unit when they differ, e.g. ``["nats", "points"]``), and a plain value for ``exact`` (against
    ``expected``, default the registry's) and ``at_most`` (against ``bound``, default the registry's; None means
    never reached). ``holds=False`` says a precondition the claim's measure names failed: not reproduced."""
    claim = get(claim_id)
    kind, z = claim.rule["kind"], claim.rule.get("z", 2)
    record: dict[str, Any] = {"claim": claim.claim, "source": claim.source, "paper": claim.paper_figure,
                              "measure": claim.measure, "unit": claim.unit, "notebook": claim.notebook}
    if kind in ("positive", "all_positive"):
        diffs = [measured] if isinstance(measured, Difference) else list(measured)
        if kind == "positive" and len(diffs) != 1:
            raise ValueError(f"{claim_id}: rule 'positive' takes one Difference, got {len(diffs)}")
        units = list(units or [claim.unit] * len(diffs))
        verdict = _verdict_of_differences(diffs, z)
        record |= {"value": [d.value for d in diffs] if len(diffs) > 1 else diffs[0].value,
                   "stderr": [d.stderr for d in diffs] if len(diffs) > 1 else diffs[0].stderr,
                   "items": [d.items for d in diffs] if len(diffs) > 1 else diffs[0].items,
                   "ours": "; ".join(_format(d, u) for d, u in zip(diffs, units, strict=True))}
    elif kind == "exact":
        expected = claim.rule.get("expected") if expected is None else expected
        verdict = "reproduced" if measured == expected else "not reproduced"
        record |= {"value": measured, "expected": expected, "stderr": None, "items": None, "ours": _plain(measured)}
    elif kind == "at_most":
        bound = claim.rule.get("bound") if bound is None else bound
        if not isinstance(bound, int | float):
            raise ValueError(f"{claim_id}: rule 'at_most' needs a numeric bound, got {bound!r}")
        verdict = "reproduced" if measured is not None and measured <= bound else "not reproduced"
        record |= {"value": measured, "bound": bound, "stderr": None, "items": None,
                   "ours": "never" if measured is None else _plain(measured)}
    else:
        raise ValueError(f"{claim_id}: unknown rule kind {kind!r}")
    record |= {"rule": claim.rule_text(bound), "holds": holds, "verdict": verdict if holds else "not reproduced"}
    if note:
        record["note"] = note
    return record


def _verdict_of_differences(diffs: Sequence[Difference], z: float) -> str:
    """All above ``z`` errors: reproduced; any below ``-z`` errors: not reproduced; else unresolved (a NaN error,
    from fewer than two items, decides nothing)."""
    def side(d: Difference) -> int:
        if math.isnan(d.stderr):
            return 0
        return 1 if d.value > z * d.stderr else -1 if d.value < -z * d.stderr else 0
    sides = [side(d) for d in diffs]
    if all(s == 1 for s in sides):
        return "reproduced"
    return "not reproduced" if any(s == -1 for s in sides) else "unresolved"


def _format(d: Difference, unit: str) -> str:
    scale = _SCALE.get(unit, 1.0)
    digits = 1 if unit == "points" else 3
    return f"{scale * d.value:+.{digits}f} ± {scale * d.stderr:.{digits}f} {unit}"


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(records: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of claim records: claim · paper · ours ± error · verdict (what notebooks show)."""
    lines = ["| claim | paper | ours | verdict |", "|---|---|---|---|"]
    for cid, r in records.items():
        lines.append(f"| **{cid}**: {r['claim']} ({r['source']}) | {r['paper']} | {r['ours']} | {r['verdict']} |")
    return "\n".join(lines)
