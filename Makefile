# Two commands do everything on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test suite's own database and Redis database (never your DATABASE_URL / REDIS_URL).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mdm
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_REDIS_CACHE_URL ?= redis://127.0.0.1:6379/14

.PHONY: run demo test lint clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-virtualenv -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py serve

# `make run`, plus a handful of simulated devices (the reference agent) so the console is alive.
demo: $(BIN)/.installed
	$(BIN)/python manage.py serve --demo-agents 5

# Style, then types (mypy, settings in pyproject.toml), then the layers (import-linter, same file).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --cache-dir var/cache/import-linter

test: $(BIN)/.installed
	scripts/services-up.sh
	scripts/browser-up.sh
	scripts/axe-up.sh
	$(MAKE) --no-print-directory lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) REDIS_CACHE_URL=$(TEST_REDIS_CACHE_URL) \
		MDM_MODE=development \
		$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
