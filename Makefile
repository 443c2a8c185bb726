# `make test` and `make demo` work from a fresh clone with only Python 3.11 installed.

VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install test lint migrate demo run mutation

install: $(VENV)/.installed

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "python3.11 (or python3) not found on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

# The product alone, so `make demo` does not wait for the test tools (browsers' driver,
# schema validators); each marker records the last install of its requirements file.
$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# Mutation check of the pure core (watchers/topology, diff.py, churn.py; TESTING.md), kept out
# of `make test`: 10 to 15 minutes on 2 cores. Starts from a clean mutants/ so the
# score is the tree's as it stands; configuration in pyproject.toml [tool.mutmut].
# The mutation check of the pure core (TESTING.md), not part of `make test`, in a virtualenv of
# its own: see requirements-mutation.txt for why.
MUTATION_VENV ?= .venv-mutation

$(MUTATION_VENV)/.installed: requirements.txt requirements-dev.txt requirements-mutation.txt
	@test -n "$(PYTHON)" || { echo "python3.11 (or python3) not found on PATH" >&2; exit 1; }
	test -x $(MUTATION_VENV)/bin/python || $(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/python -m pip install --quiet -r requirements-mutation.txt
	touch $@

mutation: $(MUTATION_VENV)/.installed
	rm -rf mutants
	$(MUTATION_VENV)/bin/mutmut run
	@$(MUTATION_VENV)/bin/mutmut results
	@$(MUTATION_VENV)/bin/mutmut export-cicd-stats >/dev/null && cat mutants/mutmut-cicd-stats.json

migrate: $(VENV)/.runtime
	$(VENV)/bin/python manage.py migrate --no-input -v 0

# The whole product in one process against the built-in simulated cluster, read-only and
# open without login (it shows only simulated data).
demo: migrate
	CONSTELLATION_ALLOW_ANONYMOUS=1 $(VENV)/bin/python manage.py serve --simulate demo \
		--host $(HOST) --port $(PORT)

# The same against the cluster of the current kubeconfig (login required: create a user
# with `$(VENV)/bin/python manage.py createsuperuser`).
run: migrate
	$(VENV)/bin/python manage.py serve --host $(HOST) --port $(PORT)
