# Entry points, each setting everything up first (a venv in .venv, torch, the package and its pins, JupyterLab and
# a Jupyter kernel named solar-dus that runs in that venv):
#   make lab         open JupyterLab on notebooks/ (the notebooks name the solar-dus kernel)
#   make pipeline    run every notebook at the tiny preset into runs/tiny (those already up to date there are skipped)
#   make test        run the whole test suite (it executes the tiny pipeline once, then checks every stage); CI runs this
#   make site        build the course site from the tiny run (runs/tiny, made first if needed) into build/course/html
#   make test-fast   run the unit tests only, not the notebooks (about three minutes on a 2-core CPU): the edit loop
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
RUN_DIR ?= runs/tiny
BIN := $(VENV)/bin
KERNEL := solar-dus

.PHONY: setup lab pipeline site test test-fast
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "solar-dus needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt "$(TORCH)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,lab,site]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (solar-dus)"
	touch $@

lab: setup  # as root (containers), JupyterLab needs --allow-root
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

pipeline: setup
	$(BIN)/solar-repro run --preset tiny --output-dir $(RUN_DIR)

site: pipeline  # --browser also renders every page in headless Chromium (needs Debian's chromium)
	$(BIN)/python course/build.py --run-dir $(RUN_DIR) --out build/course $(if $(wildcard /usr/bin/chromium),--browser)

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not notebooks"
