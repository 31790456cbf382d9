"""The published numbers we compare against, read from ``paper.yaml`` (shipped with the package): the one place a
paper figure is typed.

    from solar_utils import paper
    paper.table("table2")["SOLAR 10.7B"]["h6"]          # SOLAR 10.7B's H6 in the paper's Table 2
    paper.figure("sdpo_h4", "sDPO (easy → hard)", "h4")  # the same lookup, with errors naming what is missing
    paper.source("table2")                               # "SOLAR paper Table 2 (H6 and its six tasks)"

Tables are named by their place in the paper (``sec2``, ``table1``, ``table2``, ``table3``, ``table4``, ``table5``,
``table6_7``, and ``sdpo_h4`` from the sDPO paper); each maps a row name to its columns. See ``paper.yaml`` for the
sources and units.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PAPER_FILE = Path(__file__).with_name("paper.yaml")


@cache
def _tables() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(PAPER_FILE.read_text(encoding="utf-8"))


def tables() -> list[str]:
    """The names of the tables in ``paper.yaml``, in file order."""
    return list(_tables())


def _entry(name: str) -> dict[str, Any]:
    if name not in _tables():
        raise KeyError(f"no table {name!r} in {PAPER_FILE.name}; tables: {', '.join(_tables())}")
    return _tables()[name]


def source(name: str) -> str:
    """Where table ``name``'s figures come from (paper, table or section)."""
    return _entry(name)["source"]


def table(name: str) -> dict[str, dict[str, Any]]:
    """The rows of table ``name``, ``{row: {column: value}}`` in the paper's order (a copy: edit it freely)."""
    return copy.deepcopy(_entry(name)["rows"])


def figure(name: str, row: str, column: str) -> Any:
    """One figure: ``table(name)[row][column]``, or a KeyError naming what is missing."""
    rows = _entry(name)["rows"]
    if row not in rows:
        raise KeyError(f"table {name!r} has no row {row!r}; rows: {', '.join(rows)}")
    if column not in rows[row]:
        raise KeyError(f"table {name!r}, row {row!r} has no column {column!r} (the paper does not report it); "
                       f"columns: {', '.join(rows[row])}")
    return rows[row][column]
