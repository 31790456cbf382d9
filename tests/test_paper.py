"""The paper's numbers: one shipped file, every table the reports use present and consistent, no figure typed
anywhere else (package or notebooks)."""

import json
import re
import tomllib
from pathlib import Path

import pytest

import solar_utils
from solar_utils import paper
from solar_utils.h6 import H4_TASKS, TASKS

ROOT = Path(__file__).parent.parent
PACKAGE = Path(solar_utils.__file__).parent
# What the package and the registry of claims built on it read: table -> the columns every row needs.
USED = {"sec2": set(), "table1": {"total_k", "max_used_k"}, "table2": {"h6", *TASKS}, "table3": {"data", "h6"},
        "table4": {"h6"}, "table5": {"h6"}, "table6_7": {"h6"}, "sdpo_h4": {"h4"}}


def test_the_file_ships_with_the_package():
    assert paper.PAPER_FILE == PACKAGE / "paper.yaml" and paper.PAPER_FILE.is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "paper.yaml" in package_data["solar_utils"]


@pytest.mark.parametrize("name", sorted(USED))
def test_every_table_has_a_source_and_its_columns(name):
    assert name in paper.tables()
    assert "paper" in paper.source(name) and re.search(r"Table|Sec\.", paper.source(name))
    rows = paper.table(name)
    assert rows and all(USED[name] <= set(row) for row in rows.values()), name


def test_h6_and_h4_rows_are_means_of_their_tasks():
    for name, row in paper.table("table2").items():
        assert abs(sum(row[t] for t in TASKS) / len(TASKS) - row["h6"]) < 0.01, name
    assert set(H4_TASKS) < set(TASKS)
    sec2 = paper.table("sec2")["depth up-scaling"]
    assert sec2["layers"] == 2 * (sec2["n"] - sec2["m"]) == 48


def test_lookups_and_their_errors():
    assert paper.figure("table3", "v3", "gsm8k") == paper.table("table3")["v3"]["gsm8k"]
    paper.table("table3")["v3"]["h6"] = 0.0  # a copy
    assert paper.figure("table3", "v3", "h6") != 0.0
    with pytest.raises(KeyError, match="no table 'table9'"):
        paper.table("table9")
    with pytest.raises(KeyError, match="has no row 'v9'"):
        paper.figure("table3", "v9", "h6")
    with pytest.raises(KeyError, match="does not report it"):
        paper.figure("table3", "v1", "gsm8k")


def test_the_reports_read_their_numbers_from_the_file():
    from solar_utils.stages import alignment_sdpo, evaluation, instruction_tuning, model_merging

    assert evaluation.PAPER_TABLE2 == {name: tuple(row[c] for c in ("h6", *TASKS))
                                       for name, row in paper.table("table2").items()}
    assert {k: v["h6"] for k, v in instruction_tuning.PAPER_TABLE3.items()} == {
        k: v["h6"] for k, v in paper.table("table3").items()}
    assert sorted(model_merging.PAPER_TABLE7_H6.values()) == sorted(r["h6"] for r in paper.table("table6_7").values())
    assert model_merging.PAPER_TABLE7_H6[model_merging.CANDIDATES[0]] == paper.figure("table6_7", "Cand. 1", "h6")
    assert alignment_sdpo.PAPER_SDPO_H4 == {k: v["h4"] for k, v in paper.table("sdpo_h4").items()}


def _figures() -> set[str]:
    values = set()
    for name in paper.tables():
        for row in paper.table(name).values():
            values |= {f"{v:.2f}" for v in row.values() if isinstance(v, float) and v > 20}
    return values


def test_no_paper_figure_is_typed_outside_the_file():
    figures = _figures()
    assert {"74.31", "66.04", "73.73"} <= figures
    pattern = re.compile(r"(?<![\d.])\d{2}\.\d{2}(?![\d])")
    sources = [p for p in PACKAGE.rglob("*.py")]
    for path in sources:
        found = set(pattern.findall(path.read_text(encoding="utf-8"))) & figures
        assert not found, f"{path.relative_to(ROOT)} types paper figures {sorted(found)}: read them from solar_utils.paper"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        found = set(pattern.findall(text)) & figures
        assert not found, f"{path.name} types paper figures {sorted(found)}: read them from solar_utils.paper"
