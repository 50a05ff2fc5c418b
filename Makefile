# Two set-up commands: `make run` (the service) and `make test` (the suite). Everything else is optional.
PY313 := $(shell for p in python3.13 $$(ls -d /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13 2>/dev/null); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config/pumpwatch.yaml
LOCK := requirements.lock

.PHONY: run test test-stress lint bench soak demo install dev lock

$(PY):
	@test -n "$(PY313)" || { echo "python3.13 not found: cryptofeed 3.0.x needs Python 3.13"; exit 1; }
	$(PY313) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Every install takes the exact versions of $(LOCK) (pip constraints); `make lock` refreshes it.
$(VENV)/.installed: pyproject.toml $(LOCK) | $(PY)
	$(PY) -m pip install -q -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(PY)
	$(PY) -m pip install -q -c $(LOCK) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(VENV)/bin/pumpwatch --config $(CONFIG) run

test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m pytest

# The e2e tests with one core kept busy by a CPU hog that this target starts and stops.
test-stress: $(VENV)/.installed-dev
	$(PY) -c 'while True: pass' & hog=$$!; trap "kill $$hog" EXIT; $(PY) -m pytest tests/e2e

# Resolve pyproject.toml afresh in a throw-away venv and pin every package it installed.
lock:
	@test -n "$(PY313)" || { echo "python3.13 not found"; exit 1; }
	rm -rf .lock-venv && $(PY313) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q -e '.[dev]'
	{ echo "# pip constraints for make run / make test; regenerate with make lock, never by hand."; \
	  echo "# pyproject-dependencies-sha256: $$($(PY313) -m tests.lock_digest)"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

demo: $(VENV)/.installed
	$(VENV)/bin/pumpwatch demo

bench: $(VENV)/.installed-dev
	$(PY) -m bench

# A long run with reconnect storms, a store outage and universe changes (SOAK=30m by default).
SOAK ?= 30m
soak: $(VENV)/.installed-dev
	$(PY) -m bench.soak --duration $(SOAK)
