"""The course site (``course/build.py``) on a stand-in run: eight executed notebooks with a figure each, a report
and metrics. It builds, its links resolve, a broken link fails the build, and (where Chromium is installed; CI sets
``SOLAR_REQUIRE_BROWSER=1``) every page renders with its figures. ``test_notebooks`` builds it from the real run."""

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

BUILD = Path(__file__).resolve().parent.parent / "course" / "build.py"
spec = importlib.util.spec_from_file_location("course_build", BUILD)
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)
# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def needs_browser():
    if not course.CHROMIUM.is_file() and not os.environ.get("SOLAR_REQUIRE_BROWSER"):
        pytest.skip("Chromium is not installed (apt-get install chromium); CI requires it")


@pytest.fixture
def fake_run(tmp_path) -> Path:
    run = tmp_path / "run"
    for i, stage in enumerate(course.STAGES):
        (run / stage).mkdir(parents=True)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {i:02d} {stage}\n\nWhy, before the code."),
                    nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
                        "display_data", data={"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"}),
                        nbformat.v4.new_output("display_data", data={
                            course.WIDGET_VIEW: {"model_id": "x", "version_major": 2, "version_minor": 0},
                            "text/plain": "100% 3/3"})])]
        nb.metadata["kernelspec"] = {"name": "solar-dus", "display_name": "Python (solar-dus)", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
        nbformat.write(nb, run / stage / f"{stage}.ipynb")
        (run / stage / "figure.png").write_bytes(PNG)
    (run / "07_evaluation" / "claims.png").write_bytes(PNG)
    (run / "summary.md").write_text("# Run summary: fake\n\n| claim | notebook |\n|---|---|\n"
                                    "| dus-cost | [01](01_depth_up_scaling/01_depth_up_scaling.ipynb) |\n\n"
                                    "figures: [figure](01_depth_up_scaling/figure.png)\n")
    (run / "metrics_flat.json").write_text(json.dumps({"x": 1}))
    return run


def build(run: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD), "--run-dir", str(run), "--out", str(out), *extra],
                          capture_output=True, text=True)


def test_site_builds_from_a_run_with_every_page(fake_run, tmp_path):
    done = build(fake_run, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    html = tmp_path / "site" / "html"
    names = {p.relative_to(html).as_posix() for p in course.site_pages(html)}
    assert {"index.html", "results.html", "exercises/TEACHERS.html"} <= names
    assert {f"notebooks/{s}.html" for s in course.STAGES} <= names
    assert {f"exercises/{s}.html" for s in course.STAGES} <= names
    results = (html / "results.html").read_text()
    assert 'href="notebooks/01_depth_up_scaling.html' in results  # the report's links point at the pages
    page = (html / "notebooks" / "00_base_model.html").read_text()
    assert "<img" in page and "widget" not in page.lower() and "100% 3/3" in page  # no CDN widget manager
    teachers = (html / "exercises" / "TEACHERS.html").read_text()
    assert "Teacher notes" in teachers and 'href="../notebooks/06_model_merging.html' in teachers


def test_a_broken_link_fails_the_build(fake_run, tmp_path):
    path = fake_run / "02_continued_pretraining" / "02_continued_pretraining.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\nSee [the missing notebook](09_missing.ipynb)."
    nbformat.write(nb, path)
    done = build(fake_run, tmp_path / "site")
    assert done.returncode != 0 and "09_missing" in done.stderr


def test_broken_links_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<p id="here"><a href="b.html#gone">b</a> <img src="fig.png">'
                                     '<a href="#here">self</a> <a href="https://example.org">out</a></p>')
    (tmp_path / "b.html").write_text('<p id="there">b</p>')
    assert course.broken_links(tmp_path) == ["a.html: b.html#gone (no such anchor)", "a.html: fig.png (no such file)"]


def test_a_folder_that_is_not_a_run_is_refused_before_work(tmp_path):
    done = build(tmp_path, tmp_path / "site")
    assert done.returncode != 0 and "make pipeline" in done.stderr and not (tmp_path / "site").exists()


def test_every_page_renders_in_chromium_with_its_figures(fake_run, tmp_path):
    needs_browser()
    done = build(fake_run, tmp_path / "site", "--browser")
    assert done.returncode == 0 and "rendered in Chromium" in done.stdout, done.stderr
    html = tmp_path / "site" / "html"
    (html / "notebooks" / "03_synthetic_math.html").write_text('<article><img src="gone.png"></article>')
    (html / "notebooks" / "04_instruction_tuning.html").write_text("<article><p>no figure</p></article>")
    problems = course.browser_problems(html)
    assert any("03_synthetic_math.html: image did not load" in p for p in problems)
    assert "notebooks/04_instruction_tuning.html: no figure rendered" in problems
