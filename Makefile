# Tower: `make demo` runs a whole farm on this machine, `make test` runs the test suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The quick benchmarks; bench.chaos and bench.scale run on their own (tens of minutes each).
BENCHES := api comfyui history media pipeline progress

.PHONY: venv services up down status test demo bench lint

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml client/pyproject.toml
	scripts/services packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip install -q --no-deps -e client
	touch $@

services:
	scripts/services up

up: services venv
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask workflows seed
	scripts/farm up

down:
	scripts/farm down
	scripts/services down

status:
	scripts/services status; scripts/farm status

test:
	scripts/run-tests

demo:
	scripts/demo

bench: venv
	@set -e; for b in $(BENCHES); do echo "== bench.$$b"; $(PY) -m bench.$$b; done

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
