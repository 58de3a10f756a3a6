# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run   - serve on http://127.0.0.1:8000 (SQLite under ./var)
#   make test  - run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Test processes: one per CPU; each test file stays in one (some share a Redis or an order).
TEST_WORKERS ?= auto

.PHONY: run demo test lint format bench migrate clean docs screenshots

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Backchannel needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(VENV)/.installed
	$(BIN)/backchannel serve --host $(HOST) --port $(PORT) --data-dir var

demo: $(VENV)/.installed
	$(BIN)/backchannel demo --host $(HOST) --port $(PORT)

migrate: $(VENV)/.installed
	$(BIN)/backchannel migrate --data-dir var

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Retake docs/screenshots/ from the browser tests (needs Chromium).
screenshots: $(VENV)/.installed-dev
	BACKCHANNEL_SCREENSHOTS=1 BACKCHANNEL_TEST_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests -k web

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check backchannel tests bench examples
	$(BIN)/ruff format --check backchannel tests bench examples
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format backchannel tests bench examples
	$(BIN)/ruff check --fix backchannel tests bench examples

docs: $(VENV)/.installed
	$(BIN)/python -m backchannel.docgen > docs/configuration.md

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The send benchmark, then the real-time one (WebSocket throughput, latency, CPU,
# memory per idle socket) on the embedded default: a few minutes, JSON on stdout.
# BENCH_ARGS="--quick" for a short run; see `python -m bench.realtime --help`.
bench: $(VENV)/.installed
	$(BIN)/python -m bench.send
	$(BIN)/python -m bench.realtime $(BENCH_ARGS)
	$(BIN)/python -m bench.jobs
	$(BIN)/python -m bench.disappearing
