# newsdedup: `make run` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install run test lint typecheck evaluate clean ui

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsdedup run data/articles --output output

test: $(STAMP)
	$(BIN)/ruff check dedup flows tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check dedup flows tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

evaluate: $(STAMP)
	$(BIN)/newsdedup evaluate ecbplus-dev

ui: $(STAMP)
	$(BIN)/prefect server start --host 127.0.0.1

clean:
	rm -rf output .prefect

.PHONY: browser-test
# The seed run's artifacts in the Prefect UI, in headless Chromium (apt: chromium fonts-liberation).
browser-test: $(STAMP)
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/pip install --quiet "playwright>=1.40,<2"
	$(BIN)/python -m pytest tests/browser -o addopts="" -q -s

.PHONY: benchmark
# Speed benchmark (docs/benchmarks.md, docs/images/benchmark.png); e.g. make benchmark SIZES="10000 100000".
SIZES ?= 10000 100000 1000000
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py --sizes $(SIZES)
