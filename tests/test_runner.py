"""The papermill runner: order, parameters, --only, failure messages, progress, the report (summary.md and
metrics_flat.json), the kernel's quiet start, CLI."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from solar_utils.cli import main
from solar_utils.runner import (RunFailed, discover_notebooks, flatten, run_pipeline, section, select_notebooks,
                                write_summary)


def _notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('preset = "tiny"\nseed = 0\noutput_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _claim(claim: str, verdict: str, ours: str = "+3.1 ± 0.9 points") -> dict:
    return {"claim": claim, "source": "SOLAR paper Table 2", "paper": "H6 66.04 vs 60.97",
            "measure": "H6 minus the base's, paired", "value": 0.031, "stderr": 0.009, "items": 1800,
            "unit": "points", "ours": ours, "rule": "reproduced if > 2 paired standard errors", "verdict": verdict}


CLAIMS = {"dus-beats-base": _claim("SOLAR 10.7B beats its base", "reproduced"),
          "dus-recovery": _claim("recovery is fast", "unresolved", ours="never | within 60 steps")}
HEADLINE = {"held-out loss": 0.7001, "recovered at step": 35, "note": "tiny run"}


def _writes_metrics(extra: dict | None = None) -> str:
    """A notebook body writing metrics.json (preset, seed, x.y and ``extra``), a manifest and a figure."""
    return (
        "import json, pathlib\n"
        "out = pathlib.Path(output_dir)\n"
        f"metrics = {{'preset': preset, 'seed': seed, 'x': {{'y': 1.5}}, **{extra or {}!r}}}\n"
        "(out / 'metrics.json').write_text(json.dumps(metrics))\n"
        "(out / 'manifest.json').write_text(json.dumps({'preset': {'name': preset}, 'seed': seed,\n"
        "                                               'wall_time_s': 61.0, 'peak_rss_mb': 512.4}))\n"
        "(out / 'loss_curve.png').write_bytes(b'\\x89PNG')\n"
    )


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", _writes_metrics({"claims": CLAIMS, "headline": HEADLINE}))
    _notebook(folder / "01_second.ipynb",
              _writes_metrics() + "assert (out.parent / '00_first' / 'metrics.json').exists()\n")
    _notebook(folder / "notes.ipynb", "raise SystemExit('not a pipeline notebook')")
    return folder


def test_runs_in_order_with_parameters_progress_and_a_quiet_kernel(notebooks: Path, tmp_path: Path, capfd):
    summary = run_pipeline("tiny", tmp_path / "run", seed=7, notebooks_dir=notebooks)
    for stage in ("00_first", "01_second"):
        metrics = json.loads((tmp_path / "run" / stage / "metrics.json").read_text())
        assert metrics["preset"] == "tiny" and metrics["seed"] == 7 and metrics["x"] == {"y": 1.5}
        assert (tmp_path / "run" / stage / f"{stage}.ipynb").is_file()
    assert summary == tmp_path / "run" / "summary.md"
    assert "**dus-beats-base**" in section(summary.read_text(), "Claims")
    out, err = capfd.readouterr()
    assert re.fullmatch(r"\[1/2\] 00_first … \d+ s\n\[2/2\] 01_second … \d+ s\n", out), out
    assert "without encryption" not in err, err
    assert "%|" not in err, "papermill's progress bar is off"


def test_a_kernels_real_errors_still_reach_stderr(tmp_path: Path, capfd):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", "import os\nos.write(2, b'real trouble from the kernel\\n')\n"
              + _writes_metrics())
    run_pipeline("tiny", tmp_path / "run", notebooks_dir=folder)
    err = capfd.readouterr().err
    assert "real trouble from the kernel" in err and "without encryption" not in err


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


def test_failure_names_notebook_and_cell(notebooks: Path, tmp_path: Path, capsys):
    _notebook(notebooks / "00_first.ipynb", "x = 1\nraise ValueError('the world is flat')")
    with pytest.raises(RunFailed, match=r"00_first.ipynb failed in cell 3 of the executed notebook(.|\n)*x = 1(.|\n)*ValueError: the world is flat"):
        run_pipeline("tiny", tmp_path / "run", notebooks_dir=notebooks)
    assert (tmp_path / "run" / "00_first" / "00_first.failed.ipynb").is_file()
    assert not (tmp_path / "run" / "01_second").exists()
    assert re.fullmatch(r"\[1/2\] 00_first … failed after \d+ s\n", capsys.readouterr().out)


def test_unknown_preset_fails_before_any_kernel(notebooks: Path, tmp_path: Path, capsys):
    code = main(["run", "--preset", "giant", "--output-dir", str(tmp_path / "r"), "--notebooks-dir", str(notebooks)])
    assert code == 1
    assert "unknown preset 'giant'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_run_only_prints_the_claims_and_the_summarys_path(notebooks: Path, tmp_path: Path, capsys):
    code = main(["run", "--output-dir", str(tmp_path / "r"), "--only", "00", "--notebooks-dir", str(notebooks)])
    assert code == 0
    assert (tmp_path / "r" / "00_first" / "metrics.json").is_file()
    assert not (tmp_path / "r" / "01_second").exists()
    out = capsys.readouterr().out
    assert out.startswith("[1/1] 00_first … ")
    claims = out[out.index("## Claims"):out.index("summary written to")]
    assert "| **dus-beats-base** SOLAR 10.7B beats its base (SOLAR paper Table 2) |" in claims
    assert "1 reproduced, 0 not reproduced, 1 unresolved" in claims
    assert "## 00_first" not in out and "headline" not in out
    assert out.rstrip().endswith(f"summary written to {(tmp_path / 'r' / 'summary.md').resolve()}")


# The report, from a hand-made run folder (no kernels).

def _stage(run: Path, name: str, metrics: dict, manifest: bool = True, figures: tuple = ()) -> None:
    stage = run / name
    stage.mkdir(parents=True)
    (stage / "metrics.json").write_text(json.dumps(metrics))
    if manifest:
        (stage / "manifest.json").write_text(json.dumps(
            {"preset": {"name": "tiny"}, "seed": 1234, "wall_time_s": 754.39, "peak_rss_mb": 1165.9}))
    for figure in figures:
        (stage / figure).write_bytes(b"\x89PNG")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    run = tmp_path / "tiny"
    _stage(run, "00_base_model", {"heldout_loss": 0.7, "pretrain": {"steps": 60, "curve": list(range(50))}},
           figures=("loss_curve.png",))
    _stage(run, "02_continued_pretraining",
           {"claims": {"dus-recovery": _claim("recovery is fast", "not reproduced"),
                       "dus-beats-base": _claim("SOLAR 10.7B beats its base", "reproduced")},
            "headline": HEADLINE, "final_loss": {"dus": 0.7001}},
           figures=("recovery.png", "methods.png"))
    _stage(run, "01_depth_up_scaling", {"claims": {"dus-shape": _claim("48 layers, 10.7B", "reproduced")}},
           manifest=False)
    (run / "03_synthetic_math").mkdir()  # no metrics.json: not a stage of the report
    return run


def test_summary_opens_with_the_claims_table_in_pipeline_order(run: Path):
    text = write_summary(run).read_text()
    lines = text.splitlines()
    assert lines[0] == "# Run summary: tiny"
    assert lines[2] == ("preset `tiny`, seed 1234, total wall time 25 min over 3 stages; "
                        "every metric, flattened: [metrics_flat.json](metrics_flat.json)")
    assert lines[4] == "## Claims"
    claims = section(text, "Claims").splitlines()
    assert claims[2] == "| claim | paper | ours | verdict | notebook |"
    rows = [line for line in claims[4:] if line.startswith("| **")]
    assert [re.match(r"\| \*\*([\w-]+)\*\*", row).group(1) for row in rows] == [
        "dus-shape", "dus-recovery", "dus-beats-base"]
    assert rows[2] == ("| **dus-beats-base** SOLAR 10.7B beats its base (SOLAR paper Table 2) | H6 66.04 vs 60.97 "
                       "| +3.1 ± 0.9 points | reproduced "
                       "| [02](02_continued_pretraining/02_continued_pretraining.ipynb) |")
    assert rows[0].endswith("| [01](01_depth_up_scaling/01_depth_up_scaling.ipynb) |")
    assert claims[-1] == "2 reproduced, 1 not reproduced, 0 unresolved"
    assert text.index("## Claims") < text.index("## 00_base_model") < text.index("## 01_depth_up_scaling")


def test_claim_cells_escape_pipes(tmp_path: Path):
    _stage(tmp_path / "r", "00_x", {"claims": {"c": _claim("a | b", "unresolved", ours="x | y")}})
    row = [line for line in write_summary(tmp_path / "r").read_text().splitlines() if line.startswith("| **c**")][0]
    assert "a \\| b" in row and "x \\| y" in row and row.count(" | ") == 4


def test_a_run_without_claims_says_so(tmp_path: Path):
    _stage(tmp_path / "r", "00_base_model", {"heldout_loss": 0.7})
    text = write_summary(tmp_path / "r").read_text()
    assert section(text, "Claims") == "## Claims\n\nNo stage of this run recorded claims."


def test_stage_sections_are_short_headline_manifest_and_figures(run: Path):
    text = write_summary(run).read_text()
    stage = section(text, "02_continued_pretraining")
    assert stage.splitlines() == [
        "## 02_continued_pretraining", "",
        "preset `tiny`, seed 1234, wall time 13 min, peak memory 1166 MB", "",
        "| measure | value |", "|---|---|",
        "| held-out loss | 0.7001 |", "| recovered at step | 35 |", "| note | tiny run |", "",
        "figures: [methods](02_continued_pretraining/methods.png) · "
        "[recovery](02_continued_pretraining/recovery.png)"]
    base = section(text, "00_base_model")
    assert "| measure |" not in base, "no headline, no table"
    assert "[loss_curve](00_base_model/loss_curve.png)" in base
    assert "heldout_loss" not in text and "final_loss" not in text, "no flattened dump in the summary"
    assert section(text, "01_depth_up_scaling") == "## 01_depth_up_scaling"
    assert "03_synthetic_math" not in text


def test_metrics_flat_json_holds_every_stages_flattened_metrics(run: Path):
    write_summary(run)
    flat = json.loads((run / "metrics_flat.json").read_text())
    assert list(flat) == ["00_base_model", "01_depth_up_scaling", "02_continued_pretraining"]
    assert flat["00_base_model"] == {"heldout_loss": 0.7, "pretrain.steps": 60}
    assert flat["02_continued_pretraining"]["final_loss.dus"] == 0.7001
    assert flat["02_continued_pretraining"]["claims.dus-beats-base.verdict"] == "reproduced"
    assert flat["02_continued_pretraining"]["headline.recovered at step"] == 35
    assert not list(run.glob("*.tmp"))


def test_flatten_keeps_short_lists_only():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": list(range(50))}) == {"a.b": 1, "a.c": [1, 2]}


def test_a_rerun_skips_what_is_up_to_date_and_reruns_from_the_first_change(notebooks: Path, tmp_path: Path, capfd):
    run = tmp_path / "run"
    run_pipeline("tiny", run, seed=7, notebooks_dir=notebooks)
    capfd.readouterr()
    stamps = {s: (run / s / "metrics.json").stat().st_mtime_ns for s in ("00_first", "01_second")}
    run_pipeline("tiny", run, seed=7, notebooks_dir=notebooks)
    assert capfd.readouterr().out == "[1/2] 00_first: up to date\n[2/2] 01_second: up to date\n"
    assert stamps == {s: (run / s / "metrics.json").stat().st_mtime_ns for s in stamps}

    run_pipeline("tiny", run, seed=8, notebooks_dir=notebooks)  # another seed: everything again
    assert "up to date" not in capfd.readouterr().out
    assert json.loads((run / "01_second" / "metrics.json").read_text())["seed"] == 8

    run_pipeline("tiny", run, seed=8, notebooks_dir=notebooks, force=True)
    assert "up to date" not in capfd.readouterr().out

    _notebook(notebooks / "00_first.ipynb", _writes_metrics({"changed": True}))  # an edited notebook runs again,
    run_pipeline("tiny", run, seed=8, notebooks_dir=notebooks)  # and so does every stage after it (its input changed)
    assert "up to date" not in capfd.readouterr().out
    assert json.loads((run / "00_first" / "metrics.json").read_text())["changed"] is True


def test_checkpoints_of_other_inputs_are_removed_before_a_stage_runs_again(notebooks: Path, tmp_path: Path, capfd):
    """A stage cut short resumes from its checkpoints; one run again with other inputs (seed, preset, code, an
    upstream result) starts afresh, since the Trainer would otherwise continue from the old run's weights."""
    run = tmp_path / "run"
    run_pipeline("tiny", run, seed=7, notebooks_dir=notebooks)
    checkpoint = run / "00_first" / "trainer" / "v2" / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"weights")
    (run / "00_first" / "runner.json").unlink()  # as if cut short after that checkpoint
    capfd.readouterr()
    run_pipeline("tiny", run, seed=7, notebooks_dir=notebooks)
    assert checkpoint.is_dir() and "removed" not in capfd.readouterr().out
    run_pipeline("tiny", run, seed=8, notebooks_dir=notebooks)
    assert not checkpoint.exists() and (run / "00_first" / "trainer" / "v2").is_dir()
    assert "[1/2] 00_first (1 checkpoint(s) of other inputs removed: training starts afresh) …" in capfd.readouterr().out


def test_a_run_killed_inside_a_notebook_continues_there_and_ends_with_the_same_metrics(tmp_path: Path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_first.ipynb", _writes_metrics({"claims": CLAIMS}))
    # 01 waits for a go file on its first run only, so the test can kill the runner while it is inside 01
    _notebook(folder / "01_second.ipynb", "import pathlib, time\n"
              "go = pathlib.Path(output_dir).parent.parent / 'go'\n"
              "(pathlib.Path(output_dir).parent.parent / 'inside').touch()\n"
              "while not go.exists(): time.sleep(0.1)\n" + _writes_metrics())
    command = [sys.executable, "-m", "solar_utils.cli", "run", "--notebooks-dir", str(folder), "--seed", "5",
               "--output-dir"]
    runner = subprocess.Popen([*command, str(tmp_path / "run")], cwd=Path(__file__).parent.parent,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "inside").exists():
        assert runner.poll() is None and time.monotonic() < deadline, runner.stdout.read().decode()
        time.sleep(0.1)
    os.killpg(runner.pid, signal.SIGKILL)  # the runner and its kernel, mid-notebook
    runner.wait()
    (tmp_path / "go").touch()
    again = subprocess.run([*command, str(tmp_path / "run")], cwd=Path(__file__).parent.parent, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "[1/2] 00_first: up to date" in again.stdout and re.search(r"\[2/2\] 01_second … \d+ s", again.stdout)
    fresh = subprocess.run([*command, str(tmp_path / "fresh")], cwd=Path(__file__).parent.parent, capture_output=True,
                           text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    for stage in ("00_first", "01_second"):
        assert (tmp_path / "run" / stage / "metrics.json").read_text() == \
            (tmp_path / "fresh" / stage / "metrics.json").read_text()


def test_cli_force_flag(notebooks: Path, tmp_path: Path, capsys):
    args = ["run", "--output-dir", str(tmp_path / "run"), "--notebooks-dir", str(notebooks), "--seed", "3"]
    assert main(args) == 0 and main(args) == 0
    assert capsys.readouterr().out.count("up to date") == 2
    assert main([*args, "--force"]) == 0 and "up to date" not in capsys.readouterr().out
