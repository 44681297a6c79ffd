# refusal-annotate: `make run` to try it, `make test` for the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export DJANGO_SETTINGS_MODULE := annotate.settings
export OPENBLAS_NUM_THREADS := 1

# The newest Python >= 3.12 that actually starts (pyenv shims may exist for
# versions that are not installed). pyenv's own versions are tried too.
PYTHON ?= $(shell for p in python3.13 python3.12 $$(ls -d $$HOME/.pyenv/versions/3.1[23]*/bin/python3 2>/dev/null | sort -rV); do \
	$$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { command -v $$p; break; }; done)

.PHONY: help run test lint typecheck pytest test-sqlite bench bench-quick screenshots demo migrate clean drills

help:
	@echo "make run    - install, migrate, load the demo and serve on http://127.0.0.1:8000"
	@echo "make test   - ruff, mypy and the whole pytest suite"
	@echo "make bench  - every benchmark against PostgreSQL, one table in bench/results.md"
	@echo "              (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/refusal_annotate_bench)"
	@echo "make bench-quick - the same, reduced, in a few minutes (bench/results-quick.md)"
	@echo "make drills - fault drills: kill workers mid-job, check nothing is lost (PostgreSQL, Redis)"

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python >= 3.12 found (tried python3.13, python3.12, pyenv). Install Python 3.12 or set PYTHON=/path/to/python3.12." >&2; exit 1; fi
	@echo "Using $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# The editable install's own UserWarning (folders named like the package
	@# take precedence) is the point here: everything runs from this folder.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install -q -e '.[dev]' -e ./client
	@touch $@

run: $(VENV)/.installed
	@mkdir -p var
	DEBUG=true $(PY) manage.py migrate --no-input -v 0
	DEBUG=true $(PY) manage.py load_demo
	DEBUG=true $(PY) manage.py runserver 127.0.0.1:8000

demo: $(VENV)/.installed
	DEBUG=true $(PY) manage.py migrate --no-input -v 0
	DEBUG=true $(PY) manage.py load_demo

migrate: $(VENV)/.installed
	DEBUG=true $(PY) manage.py migrate --no-input

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	DEBUG=true $(BIN)/mypy annotate labelsets tests bench client

pytest: $(VENV)/.installed
	DEBUG=true $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The database matrix: the suite again on SQLite (CI runs `make test` on PostgreSQL).
test-sqlite: $(VENV)/.installed
	DEBUG=true DATABASE_URL=sqlite:///$(CURDIR)/var/test-matrix.sqlite3 $(BIN)/pytest -m "not browser and not postgres and not celery_worker" $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) bench/run.py

bench-quick: $(VENV)/.installed
	$(PY) bench/run.py --quick

# The fault drills of bench/faults/ (DRILLS_ARGS=--quick for the reduced
# ones CI runs); each exits non-zero if a job lost, doubled or stuck anything.
DRILLS := $(sort $(filter-out %/drill.py %/submits.py %/__init__.py,$(wildcard bench/faults/*.py)))
drills: $(VENV)/.installed
	@set -e; for d in $(DRILLS); do echo "== $$d"; $(PY) $$d $(DRILLS_ARGS); done

screenshots: $(VENV)/.installed
	SCREENSHOTS=1 DEBUG=true $(BIN)/pytest tests/browser -k "screenshot or agreement"

clean:
	rm -rf $(VENV) var
