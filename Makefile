# Lutetia: `make demo` runs the main job, `make test` runs every check.
# Both set up the locked virtual environment first (uv, installed from PyPI if absent).

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --no-sync

.PHONY: setup demo test lint types unit benchmark clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

setup: $(UV)
	$(UV) sync --frozen

demo: setup
	@echo "== lutetia assess examples/cases/spec-example.json"
	$(RUN) lutetia assess examples/cases/spec-example.json

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

types: setup
	$(RUN) mypy

unit: setup
	$(RUN) pytest

test: lint types unit

benchmark: setup
	$(RUN) python benchmarks/assess_throughput.py
	$(RUN) python benchmarks/tac_fits.py

clean:
	rm -rf .venv .tools .mypy_cache .pytest_cache .ruff_cache .hypothesis
