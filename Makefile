# Two set-up commands: `make run` (the service) and `make test` (the suite). Everything else is optional.
PY313 := $(shell for p in python3.13 $$(ls -d /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13 2>/dev/null); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config/pumpwatch.yaml

.PHONY: run test lint bench demo install dev

$(PY):
	@test -n "$(PY313)" || { echo "python3.13 not found: cryptofeed 3.0.x needs Python 3.13"; exit 1; }
	$(PY313) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(VENV)/bin/pumpwatch --config $(CONFIG) run

test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

demo: $(VENV)/.installed
	$(VENV)/bin/pumpwatch demo

bench: $(VENV)/.installed-dev
	$(PY) -m bench
