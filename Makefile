# Two entry points, each setting everything up first (a venv in .venv, torch, the package and its pins):
#   make pipeline   run every notebook at the tiny preset into runs/tiny
#   make test       run the test suite (it executes the tiny pipeline once, then checks every stage)
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
RUN_DIR ?= runs/tiny
BIN := $(VENV)/bin

.PHONY: setup pipeline test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "solar-dus needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt "$(TORCH)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

pipeline: setup
	$(BIN)/solar-repro run --preset tiny --output-dir $(RUN_DIR)

test: setup
	$(BIN)/python -m pytest
