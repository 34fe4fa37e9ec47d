# On a fresh clone: `make test` (lint, types, tests) and `make demo` (emulator + fax demo).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: test lint typecheck pytest demo bench bench-quick fuzz clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check mimewire ringfax tests benchmarks
	$(BIN)/ruff format --check mimewire ringfax

typecheck: $(STAMP)
	$(BIN)/mypy --strict mimewire ringfax

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build *.egg-info
