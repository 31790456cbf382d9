"""The reproduction runner behind ``solar-repro run``: execute the numbered notebooks in order with papermill.

Each notebook ``NN_name.ipynb`` gets the parameters ``preset``, ``seed`` and ``output_dir = <run>/NN_name``
and writes its artifacts, ``metrics.json`` and ``manifest.json`` there; the executed notebook is saved beside
them. Progress is one line per notebook (``[3/8] 02_continued_pretraining … 176 s``). A failing notebook stops
the run with its name and the cell that failed.

At the end the runner writes the run's report, ``<run>/summary.md``: the paper's claims first (every stage's
``metrics.json`` key ``claims``: one table of claim, paper, ours, verdict, notebook, and the verdict counts), then
a short section per stage (its manifest line, its ``headline`` table, links to its figures). Every metric,
flattened, goes to ``<run>/metrics_flat.json``.

A stage cut short resumes from its Trainer checkpoints only if it runs again with the same inputs; otherwise they
are removed first (:func:`drop_stale_checkpoints`), so a changed preset, seed or code trains afresh.

Kernels start with CurveZMQ transport encryption (:class:`EncryptedKernelManager`), so ipykernel has no reason
to warn that it "is running over TCP without encryption".
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import papermill
import zmq
from jupyter_client.manager import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError
from traitlets import default

from solar_utils.config import load_preset
from solar_utils.tables import headline_table, markdown_cell

NOTEBOOK_PATTERN = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
RUNNER_KERNEL = "python3"
"""ipykernel's built-in kernel: the Python that runs the runner, so a run uses this environment whatever kernels
are registered (the notebooks name ``solar-dus``, the kernel ``make setup`` registers for JupyterLab)."""
VERDICTS = ("reproduced", "not reproduced", "unresolved")
RUNNER_RECORD = "runner.json"
"""Written into a stage's folder when its notebook ran to the end: the inputs it ran with (:func:`stage_inputs`)."""
STARTED_RECORD = "runner.started.json"
"""Written into a stage's folder when its notebook starts: the inputs its training checkpoints belong to."""


class RunFailed(RuntimeError):
    """A notebook of the pipeline failed; the message names the notebook and the cell."""


class EncryptedKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with jupyter_client's ``transport_encryption`` policy ``auto``: the manager
    provisions CurveZMQ keys for kernels whose kernelspec declares ``supported_encryption: ["curve"]`` (ipykernel's
    do), so the kernel's sockets are encrypted and ipykernel does not log its plain-TCP warning. A kernelspec
    without that declaration, or a pyzmq without Curve, still runs, over plain TCP (and ipykernel says so)."""

    @default("transport_encryption")
    def _auto_when_curve(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"


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
                 log_output: bool = False, force: bool = False) -> Path:
    """Run the notebooks at ``preset`` into ``output_dir``, one progress line each; returns ``summary.md``.

    A notebook whose stage folder is complete and whose recorded inputs match is skipped ("up to date"): the same
    notebook, preset values, seed and package sources, and the same results of every earlier stage in the folder
    (see :func:`stage_inputs`). So a rerun after an interruption continues from the notebook that was cut short.
    ``force`` runs every notebook again."""
    preset_sha = _sha256(json.dumps(load_preset(preset).to_dict(), sort_keys=True, default=str).encode())
    notebooks = select_notebooks(discover_notebooks(notebooks_dir or default_notebooks_dir()), only)
    run_dir = Path(output_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for number, notebook in enumerate(notebooks, 1):
        # One line, completed when the notebook ends; with log_output the notebook's output comes in between.
        step = f"[{number}/{len(notebooks)}] {notebook.stem}"
        stage_dir = run_dir / notebook.stem
        inputs = stage_inputs(run_dir, notebook, preset_sha, seed)
        if not force and _completed(stage_dir, notebook) == inputs:
            print(f"{step}: up to date", flush=True)
            continue
        (stage_dir / RUNNER_RECORD).unlink(missing_ok=True)
        stale = drop_stale_checkpoints(stage_dir, inputs)
        note = f" ({stale} checkpoint(s) of other inputs removed: training starts afresh)" if stale else ""
        print(f"{step}{note} …", end="\n" if log_output else "", flush=True)
        again = step if log_output else ""
        started = time.monotonic()
        try:
            execute_notebook(notebook, stage_dir, preset, seed, kernel_name, log_output)
        except BaseException:
            print(f"{again} failed after {_duration(time.monotonic() - started)}", flush=True)
            raise
        _write_atomic(stage_dir / RUNNER_RECORD, json.dumps(inputs, indent=2, sort_keys=True))
        print(f"{again} {_duration(time.monotonic() - started)}", flush=True)
    return write_summary(run_dir)


def drop_stale_checkpoints(stage_dir: Path, inputs: dict[str, Any]) -> int:
    """Before a stage runs: remove the Trainer checkpoints (``checkpoint-N`` folders) under ``stage_dir`` unless the
    run that wrote them had these same ``inputs`` (an interrupted run resumes; one with another preset, seed, code
    or upstream result must not continue from them), then record ``inputs`` as the checkpoints' owner. Returns how
    many were removed."""
    started = stage_dir / STARTED_RECORD
    try:
        owner = json.loads(started.read_text()) if started.is_file() else None
    except json.JSONDecodeError:
        owner = None
    removed = 0
    if owner != inputs:
        for checkpoint in sorted(p for p in stage_dir.rglob("checkpoint-*") if p.is_dir()):
            if checkpoint.is_dir():  # not inside one removed before
                shutil.rmtree(checkpoint)
                removed += 1
    stage_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(started, json.dumps(inputs, indent=2, sort_keys=True))
    return removed


def stage_inputs(run_dir: Path, notebook: Path, preset_sha: str, seed: int) -> dict[str, Any]:
    """What a notebook's results depend on: its source, the preset's values, the seed, the package's sources, and
    the ``metrics.json`` of every earlier stage in ``run_dir`` (the upstream artifacts it reads are recorded there
    and in their manifests, which change with them)."""
    upstream = {d.name: "".join(_sha256((d / f).read_bytes()) for f in ("metrics.json", "manifest.json")
                                if (d / f).is_file())
                for d in sorted(run_dir.iterdir()) if d.name < notebook.stem and (d / "metrics.json").is_file()}
    return {"notebook_sha256": _sha256(notebook.read_bytes()), "preset_sha256": preset_sha, "seed": seed,
            "package_sha256": package_sha256(), "upstream": upstream}


def package_sha256() -> str:
    """One hash of ``solar_utils``' code and data files (its version for resuming: any edit counts)."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _completed(stage_dir: Path, notebook: Path) -> dict[str, Any] | None:
    """The recorded inputs of a notebook that ran to the end into ``stage_dir`` (executed copy and metrics there)."""
    path = stage_dir / RUNNER_RECORD
    if not (path.is_file() and (stage_dir / notebook.name).is_file() and (stage_dir / "metrics.json").is_file()):
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
            log_output=log_output, progress_bar=False, kernel_manager_class=EncryptedKernelManager,
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
    """Write ``summary.md`` (claims, then one short section per stage) and ``metrics_flat.json``; returns the
    summary's path. Stages are the run's folders holding a ``metrics.json``, in pipeline (name) order."""
    stages = []
    for stage_dir in sorted(p for p in run_dir.iterdir() if (p / "metrics.json").is_file()):
        manifest_path = stage_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        stages.append((stage_dir, json.loads((stage_dir / "metrics.json").read_text()), manifest))

    manifests = [manifest for _, _, manifest in stages if manifest]
    presets = sorted({str(m.get("preset", {}).get("name", "?")) for m in manifests}) or ["?"]
    seeds = sorted({str(m.get("seed", "?")) for m in manifests}) or ["?"]
    total = sum(m.get("wall_time_s") or 0 for m in manifests)
    lines = [f"# Run summary: {run_dir.name}", "",
             f"preset {', '.join(f'`{p}`' for p in presets)}, seed {', '.join(seeds)}, "
             f"total wall time {_duration(total)} over {len(stages)} stages; "
             "every metric, flattened: [metrics_flat.json](metrics_flat.json)", ""]
    lines += claims_section(stages)
    for stage_dir, metrics, manifest in stages:
        lines += stage_section(stage_dir, metrics, manifest)

    _write_atomic(run_dir / "metrics_flat.json",
                  json.dumps({d.name: flatten(metrics) for d, metrics, _ in stages}, indent=1))
    summary = run_dir / "summary.md"
    _write_atomic(summary, "\n".join(lines))
    return summary


def claims_section(stages: list[tuple[Path, dict, dict]]) -> list[str]:
    """``## Claims``: one row per claim of every stage, in pipeline order, and the count of each verdict."""
    rows, verdicts = [], Counter()
    for stage_dir, metrics, _ in stages:
        claims = metrics.get("claims")
        for claim_id, record in (claims.items() if isinstance(claims, dict) else ()):
            verdicts[record.get("verdict")] += 1
            claim = f"**{claim_id}** {record.get('claim', '')} ({record.get('source', '')})"
            link = f"[{stage_dir.name[:2]}]({stage_dir.name}/{stage_dir.name}.ipynb)"
            rows.append("| " + " | ".join(markdown_cell(c) for c in (
                claim, record.get("paper"), record.get("ours"), record.get("verdict"))) + f" | {link} |")
    if not rows:
        return ["## Claims", "", "No stage of this run recorded claims.", ""]
    counts = [f"{verdicts.pop(v, 0)} {v}" for v in VERDICTS] + [f"{n} {v}" for v, n in verdicts.items()]
    return ["## Claims", "", "| claim | paper | ours | verdict | notebook |", "|---|---|---|---|---|",
            *rows, "", ", ".join(counts), ""]


def stage_section(stage_dir: Path, metrics: dict, manifest: dict) -> list[str]:
    """``## NN_stage``: the manifest line, the ``headline`` table and links to the stage's figures."""
    lines = [f"## {stage_dir.name}", ""]
    if manifest:
        lines += [f"preset `{manifest.get('preset', {}).get('name', '?')}`, seed {manifest.get('seed', '?')}, "
                  f"wall time {_duration(manifest.get('wall_time_s') or 0)}, "
                  f"peak memory {manifest.get('peak_rss_mb') or 0:.0f} MB", ""]
    headline = metrics.get("headline")
    if isinstance(headline, dict) and headline:
        lines += [*headline_table(headline), ""]
    figures = sorted(stage_dir.glob("*.png"))
    if figures:
        lines += ["figures: " + " · ".join(f"[{f.stem}]({stage_dir.name}/{f.name})" for f in figures), ""]
    return lines


def section(markdown: str, title: str) -> str:
    """The ``## title`` section of ``markdown``, heading included, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", markdown, re.M | re.S)
    return match.group(0).rstrip() if match else ""


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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _duration(seconds: float) -> str:
    """``176 s`` under ten minutes, ``25 min`` under two hours, else ``3 h 05 min``."""
    if seconds < 600:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
