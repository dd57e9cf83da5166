# innoclusters: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# make demo installs the package and what it needs to run; make test adds the test, lint and
# type-check tools (the dev extra, with ruff and mypy pinned exactly).
# Installation ends by compiling the Numba kernels (clustering, areas, uncertainty) into their
# cache once per machine: a tiny demo calls each of them, so the first real run does not pay it.
COMPILE := $(BIN)/innoclusters demo --scale 0.001 --uncertainty 2 --quiet --out $(VENV)/compiled

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	$(COMPILE) > /dev/null
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(COMPILE) > /dev/null
	touch $(STAMP) $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/innoclusters demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_density
	$(BIN)/python -m benchmarks.bench_geocode
	$(BIN)/python -m benchmarks.bench_demo --scale 1

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
