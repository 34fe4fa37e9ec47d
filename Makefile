# On a fresh clone: `make test` (lint, types, tests) and `make demo` (emulator + fax demo).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Install stamps are named after the Python that should run them, so a .venv made by another
# Python (or whose interpreter is gone) is recreated by the next install step, not reused.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
STAMP       := $(VENV)/.installed-test-$(PY_VERSION)
RUN_STAMP   := $(VENV)/.installed-run-$(PY_VERSION)
BENCH_STAMP := $(VENV)/.installed-bench-$(PY_VERSION)
FUZZ_STAMP  := $(VENV)/.installed-fuzz-$(PY_VERSION)

define ensure_venv
	@if [ ! -x $(BIN)/python ] || [ "$$($(BIN)/python -c 'import sys; print(sys.version)' 2>/dev/null)" != "$$($(PYTHON) -c 'import sys; print(sys.version)')" ]; then \
		echo "== (re)creating $(VENV) with $(PYTHON) ($(PY_VERSION))"; rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q --upgrade pip setuptools wheel; \
	fi
endef

.PHONY: test test-fast test-slow test-timing lint typecheck pytest demo bench bench-quick fuzz wheel-check clean venv

$(STAMP): pyproject.toml
	$(ensure_venv)
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check mimewire ringfax tests benchmarks
	$(BIN)/ruff format --check mimewire ringfax

typecheck: $(STAMP)
	$(BIN)/mypy --strict mimewire ringfax

# The unit and integration tests: no `slow` (thorough variants) and no `timing` (performance
# guards that assert on wall-clock time; they belong with the benchmarks).
pytest: $(STAMP)
	$(BIN)/pytest -m "not slow and not timing" $(PYTEST_ARGS)

test: lint typecheck pytest

# The edit loop (under a minute on 2 cores): the core library tests only, without tests that
# start servers (`network`, `interop`), slow or timing tests. `make test` runs the rest.
test-fast: $(STAMP)
	$(BIN)/pytest -q -p no:randomly -m "not slow and not timing and not network and not interop" \
		tests/mimewire tests/attacks tests/test_layering.py tests/test_encoder_safety.py $(PYTEST_ARGS)

# The thorough variants, bounded: Hypothesis's ci profile and a per-test timeout.
test-slow: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest -m slow --timeout=600 $(PYTEST_ARGS)

# Performance guards (linearity ratios, time budgets): a loaded machine can fail one by chance,
# so the failures are rerun once and only a second failure counts.
test-timing: $(STAMP)
	$(BIN)/pytest -p no:randomly -m timing $(PYTEST_ARGS) \
		|| $(BIN)/pytest -p no:randomly -m timing --lf $(PYTEST_ARGS)

$(RUN_STAMP): pyproject.toml
	$(ensure_venv)
	$(BIN)/python -m pip install -e '.[fax]'
	touch $@

demo: $(RUN_STAMP)
	$(BIN)/ringfax demo

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --quick $(BENCH_ARGS)

$(FUZZ_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[test,fuzz]'
	touch $@

SECONDS ?= 60
fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m tests.fuzz.run --seconds $(SECONDS)

# Mutation testing (mutmut, in the test extra) of the decoder/encoder core and the ringfax inbox,
# one module at a time with a targeted test selection, at the lowest CPU priority; the score
# table is printed (see docs/testing.md and benchmarks/results/mutation.md).
# MUTATION_ARGS="--module mimewire/_codecs.py" runs one module.
.PHONY: mutation
mutation: $(STAMP)
	nice -n 19 $(BIN)/python -m tests.fuzz.mutation $(MUTATION_ARGS)

# Build the wheel, then install it on Python 3.10 and 3.13 (with and without the fax extra)
# and run a smoke test there.
wheel-check: $(STAMP)
	$(BIN)/python .ci/wheel_check.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
