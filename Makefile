# Developer and CI entry points. GNU make; every target sets up what it needs from a fresh clone.
#
#   make dev       the whole product on loopback: HTTP API + Function URLs of template.yaml, DynamoDB (moto),
#                  the Stripe emulator, the checkout page at /demo/ (DEV_ARGS="--api-port 3001" ...; Ctrl-C stops it)
#   make token     print a token for the local stack: make token USER=alice [ADMIN=1]
#   make demo      walk the whole product against the local stack (starts one if none runs) and report
#   make trigger   make the local stack's emulator emit an event, like `stripe trigger`: make trigger EVENT=payment_intent.succeeded
#                  (EVENT=evt_... sends one again)
#   make deploy-user  a user of a deployed stack and its token: make deploy-user USER=ada@example.com [ADMIN=1] [STACK=payments]
#   make smoke     walk a payment and its refund through a deployed stack: make smoke API_URL=https://... TOKEN=...
#                  (API_URL on loopback: the local stack, no token needed)
#   make test      pytest: the product's tests, then the tooling's, each with its summary (PYTEST_ARGS="-k refund -x")
#   make lint      ruff + mypy (config in pyproject.toml)
#   make template  cfn-lint, sam validate --lint, sam build (needs a Python 3.13 for the runtime)
#   make env.local.json   regenerate the env-vars file for sam local (from template.yaml)
#   make check     lint + template + test
#   make bench     cold start per function, calls per operation, package sizes (docs/performance.md; slow, not in CI)
#   make clean     build output and tool caches; `make distclean` also removes the virtualenvs and .local/
#
# dev, demo and token install only what running needs (requirements-run.txt); test, lint and bench add the
# test and lint tools (requirements-dev.txt).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

VENV     := .venv
VENV_SAM := .venv-sam
PY       := $(VENV)/bin/python
SAM      := $(VENV_SAM)/bin/sam
BUILD_DIR := .aws-sam/build

PYTEST_ARGS ?=
DEMO_ARGS   ?=
DEV_ARGS    ?=
ADMIN       ?=

# The interpreter the virtualenvs are made with: PYTHON if given, else the first python3 / python3.1x
# on PATH that is 3.11 or newer (resolved through pyenv shims to the real interpreter). Expanded only
# inside the recipes that create a virtualenv.
PYTHON ?= $(shell for p in python3 python3.11 python3.12 python3.13; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	  && { $$p -c 'import sys; print(sys.executable)'; break; }; done)

# `sam build` for the python3.13 runtime needs a python3.13 on PATH. PYTHON313 may name one; otherwise the
# newest pyenv 3.13.x (under $PYENV_ROOT, then ~/.pyenv), then a python3.13 already on PATH.
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON313 ?= $(shell { ls -d $(PYENV_ROOT)/versions/3.13.*/bin/python3.13 $(HOME)/.pyenv/versions/3.13.*/bin/python3.13 \
	  2>/dev/null | sort -V | tail -n 1; command -v python3.13 2>/dev/null; } | head -n 1)

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv venv-run sam-venv test lint ruff mypy template cfn-lint sam-validate sam-build dev token token-usage \
	demo check clean distclean bench trigger deploy-user smoke

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# ---------------------------------------------------------------- virtualenvs
# Each stamp records that a set of requirements was installed; it is older than a requirements file when that
# file changes, which installs again. .installed-run: what running needs; .installed: that and the tools.
# What they say goes to stderr, so that `TOKEN=$(make -s token USER=alice)` captures only the token.

NO_PYTHON := error: no Python >= 3.11 found (tried python3, python3.11, python3.12, python3.13); set PYTHON=...

venv-run: $(VENV)/.installed-run
venv: $(VENV)/.installed

$(VENV)/.installed-run: requirements-run.txt layers/common/requirements.txt layers/auth/requirements.txt
	@py='$(PYTHON)'; if [ -z "$$py" ]; then echo "$(NO_PYTHON)" >&2; exit 1; fi; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$py ($$($$py --version))" >&2; "$$py" -m venv $(VENV); fi
	@echo "installing the local stack's dependencies into $(VENV) (once, and again when requirements change; under a minute)..." >&2
	@$(PY) -m pip install --quiet --no-input -r requirements-run.txt
	@touch $@

$(VENV)/.installed: requirements-dev.txt $(VENV)/.installed-run
	@echo "installing the test and lint tools into $(VENV) (once, and again when requirements change)..." >&2
	@$(PY) -m pip install --quiet --no-input -r requirements-dev.txt
	@touch $@

sam-venv: $(VENV_SAM)/.installed

$(VENV_SAM)/.installed: requirements-sam.txt
	@py='$(PYTHON)'; if [ -z "$$py" ]; then echo "$(NO_PYTHON)" >&2; exit 1; fi; \
	if [ ! -x $(VENV_SAM)/bin/python ]; then echo "creating $(VENV_SAM) with $$py"; "$$py" -m venv $(VENV_SAM); fi
	$(VENV_SAM)/bin/python -m pip install --quiet --no-input -r requirements-sam.txt
	@touch $@

# ---------------------------------------------------------------- checks

# The product's tests (pytest -m "not tooling"), then the tooling's (-m tooling: devstack, the emulator, the
# local stack, the page), each with its own summary, and both again at the end. One exit status: it fails if
# either half fails. A half with no tests is an error, unless PYTEST_ARGS narrowed the run and the other half ran.
test: venv
	@rc=0; ran=0; summary=(); log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	color=$$([ -t 1 ] && echo --color=yes || echo --color=no); \
	for half in product tooling; do \
	  if [ $$half = product ]; then marker="not tooling"; else marker=tooling; fi; \
	  printf '\n== %s tests (pytest -m "%s") ==\n' $$half "$$marker"; \
	  code=0; $(PY) -m pytest $$color -m "$$marker" $(PYTEST_ARGS) 2>&1 | tee "$$log" || code=$$?; \
	  last=$$(tail -n 1 "$$log" | sed 's/\x1b\[[0-9;]*m//g; s/^=* *//; s/ *=*$$//'); \
	  if [ $$code -eq 0 ]; then ran=1; \
	  elif [ $$code -eq 5 ] && [ -n "$(strip $(PYTEST_ARGS))" ]; then last="none selected by PYTEST_ARGS"; \
	  else ran=1; [ $$rc -ne 0 ] || rc=$$code; \
	    if [ $$code -eq 5 ]; then last="error: no $$half tests collected"; fi; fi; \
	  summary+=("$$half: $$last"); \
	done; \
	if [ $$ran -eq 0 ] && [ $$rc -eq 0 ]; then summary+=("error: pytest collected no tests"); rc=5; fi; \
	printf '\n== summary ==\n'; printf '%s\n' "$${summary[@]}"; \
	exit $$rc

# Both linters run, so one pass reports everything; the target fails if either found something.
lint: venv
	@rc=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || rc=1; \
	echo "mypy"; $(VENV)/bin/mypy || rc=1; \
	exit $$rc

ruff: venv
	$(VENV)/bin/ruff check .

mypy: venv
	$(VENV)/bin/mypy

template: cfn-lint sam-validate sam-build

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml

sam-validate: sam-venv
	$(SAM) validate --lint --template-file template.yaml

# The layer must come out with its requirements installed next to the payments package.
sam-build: sam-venv
	@if [ -z "$(PYTHON313)" ] || ! "$(PYTHON313)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))'; then \
	  echo "error: sam build needs Python 3.13 for the python3.13 runtime, and none was found" >&2; \
	  echo "       (looked in $(PYENV_ROOT)/versions/3.13.*, ~/.pyenv/versions/3.13.* and PATH)." >&2; \
	  echo "       Install one (pyenv install 3.13) or point PYTHON313=/path/to/python3.13." >&2; \
	  exit 1; fi
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build --template-file template.yaml --build-dir $(BUILD_DIR)
	@for pkg in payments stripe aws_lambda_powertools pynamodb; do \
	  if [ ! -d $(BUILD_DIR)/CommonLayer/python/$$pkg ]; then \
	    echo "error: the built CommonLayer has no $$pkg (expected $(BUILD_DIR)/CommonLayer/python/$$pkg)" >&2; \
	    exit 1; fi; done; \
	echo "CommonLayer built with payments, stripe, aws_lambda_powertools, pynamodb"

check: lint template test

# Measures the `sam build` output (built first when there is none; rebuild with `make sam-build` after changes).
# BENCH_ARGS="--runs 15" for steadier medians; --output FILE keeps the report.
BENCH_ARGS ?=
bench: venv
	@if [ ! -d $(BUILD_DIR)/CommonLayer/python ]; then $(MAKE) --no-print-directory sam-build; fi
	PYTHON313="$(PYTHON313)" $(PY) -m bench.run --build-dir $(BUILD_DIR) $(BENCH_ARGS)
	$(PY) -m bench.metrics --build-dir $(BUILD_DIR)   # the numbers: calls per counted event, the one Query, the aggregator's cold start

# ---------------------------------------------------------------- local stack
# `make dev` runs until Ctrl-C (which stops every process it started). USER defaults to your login name; without
# one, `make token` answers with its usage.

dev: venv-run
	$(PY) -m devstack.local_stack serve $(DEV_ARGS)

token: $(if $(strip $(USER)),venv-run,token-usage)
	@$(PY) -m devstack.local_stack token --user "$(USER)" $(if $(filter 1 true yes,$(ADMIN)),--admin)

token-usage:
	@echo "usage: make token USER=alice [ADMIN=1]" >&2; exit 2

demo: venv-run
	$(PY) -m devstack.demo $(DEMO_ARGS)

# ---- never out of sync, setup without the Dashboard: trigger events locally; a user and a smoke test in AWS
EVENT   ?=
STACK   ?= payments
API_URL ?= http://127.0.0.1:3000
TOKEN   ?=

trigger: venv-run
	@if [ -z "$(EVENT)" ]; then echo "usage: make trigger EVENT=payment_intent.succeeded (or EVENT=evt_...)" >&2; exit 2; fi
	@$(PY) -m devstack.trigger "$(EVENT)" --api "$(API_URL)"

deploy-user: venv-run
	@if [ -z "$(findstring @,$(USER))" ]; then echo "usage: make deploy-user USER=ada@example.com [ADMIN=1] [STACK=payments]" >&2; exit 2; fi
	@$(PY) -m devstack.deploy_user --user "$(USER)" --stack "$(STACK)" $(if $(filter 1 true yes,$(ADMIN)),--admin)

smoke: venv-run
	@$(PY) -m devstack.smoke --api "$(API_URL)" --token "$(TOKEN)"

env.local.json: template.yaml devstack/local_stack.py devstack/local_functions.py | venv-run
	$(PY) -m devstack.local_stack env-file > $@

# ---------------------------------------------------------------- housekeeping

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache
	find . \( -path ./$(VENV) -o -path ./$(VENV_SAM) -o -path ./.git \) -prune \
	  -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(VENV_SAM) .local
