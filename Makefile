# Strongroom: `make run` starts the product, `make test` proves it. Everything else is below.
# The virtualenv lives in .venv and is (re)installed only when pyproject.toml changes.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-n 0 -k health"`.
PYTEST_ARGS ?= -n auto

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format types check bench migrate clean

help:
	@echo "make run      start Strongroom at http://127.0.0.1:$${PORT:-8000}/ (web, worker, beat)"
	@echo "make test     run the test suite (PostgreSQL/Redis on 127.0.0.1 when they answer, else SQLite)"
	@echo "make check    lint + types + test"
	@echo "make lint | format | types | migrate | bench | venv | clean"

venv: $(STAMP)

$(STAMP): pyproject.toml cli/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ./cli
	@touch $(STAMP)

run: venv
	$(BIN)/python scripts/launch.py

test: venv
	$(BIN)/python scripts/run_tests.py $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: venv
	$(BIN)/mypy

check: lint types test

bench: venv
	@# wrk drives the API cases (#14); Debian's package, installed the way .ci/run installs Chromium
	@command -v wrk >/dev/null || { echo "bench: installing Debian's wrk"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench

migrate: venv
	$(BIN)/python manage.py migrate --noinput

clean:
	rm -rf $(VENV) staticfiles .mypy_cache .ruff_cache *.egg-info
