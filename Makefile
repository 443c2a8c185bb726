# `make test` and `make demo` work from a fresh clone with only Python 3.11 installed.

VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PYTEST_ARGS ?=

.PHONY: install test lint migrate demo

install: $(VENV)/.installed

# Reinstalls whenever a requirements file changes; the marker records the last install.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "python3.11 (or python3) not found on PATH" >&2; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

migrate: $(VENV)/.installed
	$(VENV)/bin/python manage.py migrate --no-input

demo: migrate
	$(VENV)/bin/python manage.py simulate_cluster --scenario demo --port 8001 \
		--kubeconfig $(CURDIR)/.simcluster.kubeconfig
