# tlks bus: developer entry points.  Needs only python3 (with venv) and make; the rest
# comes from PyPI into .venv, re-installed only when a requirements file changes
# (pip -qq: errors only).

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
PIP      := $(BIN)/python -m pip --disable-pip-version-check --no-input
RUN_ARGS ?=

.PHONY: help venv run test bench clean distclean

help:
	@echo "make venv       create .venv and install requirements-dev.txt (when they change)"
	@echo "make run        serve the bus on http://127.0.0.1:8000 (RUN_ARGS='--port 9000 ...')"
	@echo "                other storage: RUN_ARGS='--storage file|redis|memory' (TLKS_STORAGE_URL)"
	@echo "make test       run the test suite (unit, functional, contract, e2e); the Redis"
	@echo "                tests need redis-server on PATH (they skip without it, fail under CI)"
	@echo "make bench      run bench/queue_bench.py"
	@echo "make clean      remove caches and .tlks/ (the default SQLite file too; distclean: the venv)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing requirements-dev.txt into $(VENV) ..."
	@$(PIP) install -qq --requirement requirements-dev.txt
	@touch $@

run: venv
	$(BIN)/python -m chalicelib.runtime.local $(RUN_ARGS)

test: venv
	@$(BIN)/python -m pytest -q tests

bench: venv
	$(BIN)/python bench/queue_bench.py

clean:
	rm -rf .pytest_cache .tlks
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
