"""The reproduction runner behind ``solar-repro run``: execute the numbered notebooks in order with papermill.

Each notebook ``NN_name.ipynb`` gets the parameters ``preset``, ``seed`` and ``output_dir = <run>/NN_name``
and writes its artifacts, ``metrics.json`` and ``manifest.json`` there; the executed notebook is saved beside
them. A failing notebook stops the run with its name and the cell that failed. At the end the runner writes
``<run>/summary.md`` with every stage's metrics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from solar_utils.config import load_preset

NOTEBOOK_PATTERN = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
RUNNER_KERNEL = "python3"
"""ipykernel's built-in kernel: the Python that runs the runner, so a run uses this environment whatever kernels
are registered (the notebooks name ``solar-dus``, the kernel ``make setup`` registers for JupyterLab)."""


class RunFailed(RuntimeError):
    """A notebook of the pipeline failed; the message names the notebook and the cell."""


def default_notebooks_dir() -> Path:
    """``./notebooks`` when it exists, else the ``notebooks/`` folder of the source checkout."""
    here = Path.cwd() / "notebooks"
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"


def discover_notebooks(notebooks_dir: Path) -> dict[str, Path]:
    """The pipeline's notebooks by their two-digit number, in order."""
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {notebooks_dir}: pass --notebooks-dir")
    found = {}
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        match = NOTEBOOK_PATTERN.match(path.name)
        if match:
            found[match.group(1)] = path
    if not found:
        raise FileNotFoundError(f"{notebooks_dir} holds no numbered notebooks (NN_name.ipynb)")
    return found


def select_notebooks(found: dict[str, Path], only: list[str] | None) -> list[Path]:
    """The notebooks to run: all, or those named by number (``["00", "01"]``), in pipeline order."""
    if not only:
        return list(found.values())
    wanted = [n.strip().zfill(2) for n in only if n.strip()]
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise ValueError(f"--only names notebooks {unknown} that do not exist; choose from {sorted(found)}")
    return [found[n] for n in sorted(set(wanted))]


def run_pipeline(preset: str, output_dir: Path, seed: int = 1234, only: list[str] | None = None,
                 notebooks_dir: Path | None = None, kernel_name: str = RUNNER_KERNEL,
                 log_output: bool = False) -> Path:
    """Run the notebooks at ``preset`` into ``output_dir``; returns the path of ``summary.md``."""
    load_preset(preset)  # fail fast on an unknown preset, before any kernel starts
    notebooks = select_notebooks(discover_notebooks(notebooks_dir or default_notebooks_dir()), only)
    run_dir = Path(output_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks:
        execute_notebook(notebook, run_dir / notebook.stem, preset, seed, kernel_name, log_output)
    return write_summary(run_dir)


def execute_notebook(notebook: Path, stage_dir: Path, preset: str, seed: int,
                     kernel_name: str = RUNNER_KERNEL, log_output: bool = False) -> Path:
    """Execute one notebook with papermill; the executed copy lands in ``stage_dir`` atomically."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    final = stage_dir / notebook.name
    partial = stage_dir / f".{notebook.stem}.partial.ipynb"
    try:
        papermill.execute_notebook(
            str(notebook), str(partial), cwd=str(notebook.parent), kernel_name=kernel_name,
            parameters={"preset": str(preset), "seed": seed, "output_dir": str(stage_dir)},
            log_output=log_output, progress_bar=True,
        )
    except PapermillExecutionError as err:
        partial.replace(stage_dir / f"{notebook.stem}.failed.ipynb")
        source = "\n".join("    " + line for line in err.source.strip().splitlines()[:8])
        raise RunFailed(
            f"notebook {notebook.name} failed in cell {err.cell_index} of the executed notebook "
            f"(execution count {err.exec_count}):\n"
            f"{source}\n{err.ename}: {err.evalue}\n"
            f"The executed notebook is at {stage_dir / (notebook.stem + '.failed.ipynb')}"
        ) from None
    partial.replace(final)
    return final


def write_summary(run_dir: Path) -> Path:
    """Write ``summary.md``: each stage's scalar metrics, wall time and peak memory, as Markdown tables."""
    lines = [f"# Run summary: {run_dir.name}", ""]
    for stage_dir in sorted(p for p in run_dir.iterdir() if (p / "metrics.json").is_file()):
        metrics = json.loads((stage_dir / "metrics.json").read_text())
        manifest_path = stage_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        lines += [f"## {stage_dir.name}", ""]
        if manifest:
            lines += [f"preset `{manifest['preset']['name']}`, seed {manifest['seed']}, "
                      f"wall time {manifest['wall_time_s']:.0f} s, peak memory {manifest['peak_rss_mb']:.0f} MB", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in flatten(metrics).items()]
        lines.append("")
    summary = run_dir / "summary.md"
    tmp = summary.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(summary)
    return summary


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics as ``a.b.c`` keys; lists are kept only when short."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif not isinstance(value, list) or len(value) <= 12:
            flat[name] = value
    return flat


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
