# Candor: `make run` serves the app with demo data, `make test` runs every test.
# Both install what is missing first (a virtualenv in .venv, npm packages).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The first of these that is Python 3.12 or newer builds the virtualenv.
# Under pyenv, .python-version makes `python3` 3.12.
PYTHON_CANDIDATES := python3 python3.13 python3.12
FOUND_PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo $(p))))

.PHONY: help install run test lint format migrate clean bench bench-scaleout bench-log loadtest

help:
	@echo "make run     serve Candor with demo data on http://$(HOST):$(PORT), with the task worker"
	@echo "make test    run the whole test suite (DATABASE_URL picks the database)"
	@echo "make lint    ruff check and format check, and the import rules (lint-imports)"
	@echo "make format  apply ruff's formatting and safe fixes"
	@echo "make bench   page speed at scale (SCALE=full|small DURATION=10; docs/performance.md)"
	@echo "make bench-scaleout  two app servers share one session and see each other's writes (docs/deploy.md)"
	@echo "make bench-log  the log at ENTRIES=1000000: tree head, proofs for a pack (docs/performance.md)"
	@echo "make loadtest  USERS=16 people at once for DURATION=60 s on PostgreSQL: no 5xx, no write lost"

$(VENV)/.installed: requirements.txt
	@if [ -z "$(FOUND_PYTHON)" ]; then \
	  echo "Candor needs Python 3.12 or newer; found $$(python3 --version 2>&1 | sed 's/^Python //')." >&2; \
	  echo "Install Python 3.12+ (pyenv reads .python-version) and run make again." >&2; \
	  exit 1; \
	fi
	@[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || { rm -rf $(VENV); $(FOUND_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Candor needs npm (Node.js) for its front-end packages." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

migrate: install
	DEBUG=true $(PY) manage.py migrate --no-input

# The task worker (huey: e-mails, nightly/daily/weekly jobs) runs beside the
# server and is stopped when the server stops.
run: migrate
	DEBUG=true $(PY) manage.py log_key create --if-missing
	DEBUG=true $(PY) manage.py seed_demo --if-empty
	DEBUG=true $(PY) manage.py log_head
	@echo "Starting the task worker (manage.py run_huey) for e-mails and scheduled jobs; it stops with the server."
	@DEBUG=true $(PY) manage.py run_huey & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null; echo "Task worker stopped."' EXIT; \
	  DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

# Tests run with DEBUG off, as production does; they need some SECRET_KEY.
test: install
	SECRET_KEY=$${SECRET_KEY:-insecure-key-for-tests-only} $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Page speed at scale against DATABASE_URL (local only); see docs/performance.md.
SCALE ?= full
DURATION ?= 10
bench: install
	SCALE=$(SCALE) DURATION=$(DURATION) $(PY) -m bench.run

# The log at 1,000,000 entries: a tree head, a pack's proofs (docs/performance.md "The log").
bench-log: install
	$(PY) -m bench.log_scale

# Two gunicorn servers on one database (local only): one session, each other's
# writes at once; see docs/deploy.md "Scale beyond one machine".
bench-scaleout: install
	$(PY) -m bench.two_servers

# Many users at once on gunicorn + PostgreSQL (local only): no 5xx, every accepted
# write stored, every conflicting edit reported; see docs/performance.md "Load test".
# DURATION defaults to 60 s here (10 for make bench) unless given.
USERS ?= 16
loadtest: install
	USERS=$(USERS) DURATION=$(if $(filter command line environment,$(origin DURATION)),$(DURATION),60) $(PY) -m bench.loadtest

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache
