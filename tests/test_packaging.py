"""The project's setup files agree: one source of pins, the same Python everywhere, notebooks commit-clean."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    names |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    return names - {project["name"]}


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(line.lower().split("==") for line in lines if line and not line.startswith("#"))


def test_every_dependency_is_pinned_once_in_constraints():
    missing = _declared() - set(_pins())
    assert not missing, f"pin these in constraints.txt: {sorted(missing)}"


def test_conda_binder_and_ci_install_with_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    binder = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"] and "python=3.11" in binder["dependencies"]
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c constraints.txt" in pip_lines
    assert (ROOT / "binder" / "postBuild").read_text().count("-c constraints.txt") == 2
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_setup_brings_jupyterlab_and_the_projects_kernel():
    makefile = (ROOT / "Makefile").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert '-e ".[test,lab,site]"' in makefile and {_name(r) for r in extras["lab"]} >= {"jupyterlab", "ipywidgets"}
    assert "ipykernel install --sys-prefix --name $(KERNEL)" in makefile and "KERNEL := solar-dus" in makefile
    assert re.search(r"^lab: setup.*\n\t\$\(BIN\)/jupyter lab notebooks/", makefile, re.M)


def test_requires_python_matches_the_environments():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_clean_and_parameterised(notebook):
    nb = json.loads(notebook.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "strip outputs before committing"
    assert nb["metadata"]["kernelspec"]["name"] == "solar-dus"  # the kernel `make setup` registers
    assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")
    params = code[0]
    assert "parameters" in params["metadata"].get("tags", [])
    source = "".join(params["source"])
    for name in ("preset", "seed", "output_dir"):
        assert re.search(rf"^{name} = ", source, re.M), f"parameters cell lacks {name}"
    last = "".join(code[-1]["source"])
    assert "stage.finish(" in last, "the last code cell saves what we measured"
    assert "login(" not in json.dumps(nb) and "trust_remote_code=True" not in json.dumps(nb)
