# tlks bus: developer entry points.  Needs only python3 (with venv) and make; the rest
# comes from PyPI into .venv, re-installed only when a requirements file changes.  `make run`
# installs what the bus and its local runner need (requirements-run.txt); `make test` adds the
# test tools (requirements-dev.txt).  pip's own lines show the progress.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
PIP      := $(BIN)/python -m pip --disable-pip-version-check --no-input
RUN_ARGS ?=
FRESH    ?=
STAGE    ?= dev
OUT      ?= out/$(STAGE)

.PHONY: help venv venv-run run test bench package deploy undeploy clean distclean

help:
	@echo "make venv       create .venv and install requirements-dev.txt (when they change)"
	@echo "make run        serve the bus on http://127.0.0.1:8000 (RUN_ARGS='--port 9000 ...');"
	@echo "                keeps its state in .tlks/ across restarts (FRESH=1: start clean)"
	@echo "                other storage: RUN_ARGS='--storage file|redis|memory' (TLKS_STORAGE_URL)"
	@echo "make test       run the test suite (unit, functional, contract, e2e); the Redis"
	@echo "                tests need redis-server on PATH (they skip without it, fail under CI)"
	@echo "make bench      run bench/queue_bench.py"
	@echo "make package    CloudFormation for STAGE=dev|prod into OUT=out/<stage> (offline;"
	@echo "                deploy with aws cloudformation deploy, see docs/deploy.md)"
	@echo "make deploy     STAGE=dev: tables stack, then chalice deploy (needs AWS credentials)"
	@echo "make undeploy   STAGE=dev: chalice delete (the tables are kept; docs/deploy.md)"
	@echo "make clean      remove caches and .tlks/ (the default SQLite file too; distclean: the venv)"

venv: $(STAMP)
venv-run: $(RUN_STAMP)

$(BIN)/python:
	@echo "Creating $(VENV) with $(PYTHON) ..."
	@$(PYTHON) -m venv $(VENV)

# requirements-dev.txt includes requirements-run.txt: installing it satisfies both stamps
$(RUN_STAMP): requirements.txt requirements-run.txt | $(BIN)/python
	@echo "Installing what make run needs (requirements-run.txt) into $(VENV) ..."
	@$(PIP) install --requirement requirements-run.txt
	@touch $@

$(STAMP): requirements.txt requirements-run.txt requirements-dev.txt | $(BIN)/python
	@echo "Installing the bus and its test tools (requirements-dev.txt) into $(VENV) ..."
	@$(PIP) install --requirement requirements-dev.txt
	@touch $@ $(RUN_STAMP)

# FRESH=1: forget the saved tables and admin token in .tlks/ first (the runner's --fresh)
run: venv-run
	$(BIN)/python -m chalicelib.runtime.local $(if $(filter-out 0 no false,$(FRESH)),--fresh) $(RUN_ARGS)

# Dredd (the API Blueprint tests, docs/build_openapi.py) comes from npm into node_modules,
# re-installed only when package-lock.json changes.  Without npm the stamp is not made: those
# tests then skip with an install hint (they fail under CI=true).
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "Installing package-lock.json into node_modules ..." \
	  && npm ci --omit=optional --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the API Blueprint tests will skip (install Node.js 18+)"; fi

test: venv $(NODE_STAMP)
	@$(BIN)/python -m pytest -q tests

bench: venv
	$(BIN)/python bench/queue_bench.py

# chalice needs a region even for `package` (never credentials there; docs/deploy.md).
package deploy undeploy: export AWS_DEFAULT_REGION ?= us-east-1

# The merge template adds the tables (infra/tables.json) and binds the dispatcher to the queue
# table's stream; the placeholder ARN only exists so chalice emits the event source.
package: venv-run
	@$(BIN)/python -m infra.cloudformation policies --check
	@$(BIN)/python -m infra.cloudformation merge-template --stage $(STAGE) -o $(OUT)/merge.json
	@TLKS_QUEUE_STREAM_ARN=$$($(BIN)/python -c 'from infra.cloudformation import PLACEHOLDER_STREAM_ARN as a; print(a)') \
	  $(BIN)/chalice package --stage $(STAGE) --merge-template $(OUT)/merge.json $(OUT)
	@echo "$(OUT)/sam.json"

# Not run by the tests (no AWS account here): documented in docs/deploy.md.
deploy: venv-run
	@$(BIN)/python -m infra.cloudformation policies --check
	@$(BIN)/python -m infra.cloudformation tables --stage $(STAGE) -o $(OUT)/tables.json
	aws cloudformation deploy --stack-name tlks-bus-$(STAGE)-tables --template-file $(OUT)/tables.json
	arn=$$(aws cloudformation describe-stacks --stack-name tlks-bus-$(STAGE)-tables \
	  --query "Stacks[0].Outputs[?OutputKey=='QueueStreamArn'].OutputValue" --output text) \
	  && case "$$arn" in arn:*) ;; *) echo "no QueueStreamArn output: $$arn" >&2; exit 1;; esac \
	  && TLKS_QUEUE_STREAM_ARN=$$arn $(BIN)/chalice deploy --stage $(STAGE)

undeploy: venv-run
	$(BIN)/chalice delete --stage $(STAGE)

clean:
	rm -rf .pytest_cache .tlks
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
