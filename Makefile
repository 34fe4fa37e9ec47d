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

RUN_STAMP := $(VENV)/.installed-run
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

demo: $(RUN_STAMP)
	$(BIN)/ringfax demo

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --quick $(BENCH_ARGS)

FUZZ_STAMP := $(VENV)/.installed-fuzz
$(FUZZ_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[test,fuzz]'
	touch $@

SECONDS ?= 60
fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m tests.fuzz.run --seconds $(SECONDS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build *.egg-info
