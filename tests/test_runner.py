"""The papermill runner: order, parameters, --only, failure messages, summary, CLI."""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from solar_utils.cli import main
from solar_utils.runner import RunFailed, flatten, run_pipeline, select_notebooks, discover_notebooks


def _notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('preset = "tiny"\nseed = 0\noutput_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


WRITE_METRICS = (
    "import json, pathlib\n"
    "out = pathlib.Path(output_dir)\n"
    "(out / 'metrics.json').write_text(json.dumps({'preset': preset, 'seed': seed, 'x': {'y': 1.5}}))\n"
)


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", WRITE_METRICS)
    _notebook(folder / "01_second.ipynb", WRITE_METRICS + "assert (out.parent / '00_first' / 'metrics.json').exists()\n")
    _notebook(folder / "notes.ipynb", "raise SystemExit('not a pipeline notebook')")
    return folder


def test_runs_in_order_with_parameters_and_writes_summary(notebooks: Path, tmp_path: Path):
    summary = run_pipeline("tiny", tmp_path / "run", seed=7, notebooks_dir=notebooks)
    for stage in ("00_first", "01_second"):
        metrics = json.loads((tmp_path / "run" / stage / "metrics.json").read_text())
        assert metrics == {"preset": "tiny", "seed": 7, "x": {"y": 1.5}}
        assert (tmp_path / "run" / stage / f"{stage}.ipynb").is_file()
    text = summary.read_text()
    assert "## 00_first" in text and "| x.y | 1.5 |" in text


def test_runs_in_the_runners_python_whatever_kernel_the_notebook_names(tmp_path: Path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", "import json, pathlib, sys\n"
              "(pathlib.Path(output_dir) / 'metrics.json').write_text(json.dumps({'python': sys.executable}))")
    nb = nbformat.read(folder / "00_first.ipynb", as_version=4)
    nb.metadata["kernelspec"] = {"name": "a-kernel-nobody-registered", "display_name": "?", "language": "python"}
    nbformat.write(nb, folder / "00_first.ipynb")
    run_pipeline("tiny", tmp_path / "run", notebooks_dir=folder)
    ran = json.loads((tmp_path / "run" / "00_first" / "metrics.json").read_text())["python"]
    assert Path(ran).resolve() == Path(sys.executable).resolve()


def test_only_selects_and_validates(notebooks: Path):
    found = discover_notebooks(notebooks)
    assert list(found) == ["00", "01"]
    assert [p.name for p in select_notebooks(found, ["1"])] == ["01_second.ipynb"]
    with pytest.raises(ValueError, match=r"\['05'\] that do not exist"):
        select_notebooks(found, ["05"])


def test_failure_names_notebook_and_cell(notebooks: Path, tmp_path: Path):
    _notebook(notebooks / "00_first.ipynb", "x = 1\nraise ValueError('the world is flat')")
    with pytest.raises(RunFailed, match=r"00_first.ipynb failed in cell 3 of the executed notebook(.|\n)*x = 1(.|\n)*ValueError: the world is flat"):
        run_pipeline("tiny", tmp_path / "run", notebooks_dir=notebooks)
    assert (tmp_path / "run" / "00_first" / "00_first.failed.ipynb").is_file()
    assert not (tmp_path / "run" / "01_second").exists()


def test_unknown_preset_fails_before_any_kernel(notebooks: Path, tmp_path: Path, capsys):
    code = main(["run", "--preset", "giant", "--output-dir", str(tmp_path / "r"), "--notebooks-dir", str(notebooks)])
    assert code == 1
    assert "unknown preset 'giant'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_run_only(notebooks: Path, tmp_path: Path, capsys):
    code = main(["run", "--output-dir", str(tmp_path / "r"), "--only", "00", "--notebooks-dir", str(notebooks)])
    assert code == 0
    assert (tmp_path / "r" / "00_first" / "metrics.json").is_file()
    assert not (tmp_path / "r" / "01_second").exists()
    assert "summary written to" in capsys.readouterr().out


def test_flatten_keeps_short_lists_only():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": list(range(50))}) == {"a.b": 1, "a.c": [1, 2]}
