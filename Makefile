# Every target installs what it needs through the virtualenv stamp, so a fresh clone needs
# nothing but python3 (3.11+) and, for `sam build`, a python3.13 interpreter (pyenv is fine).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK_NAME ?= microservices-pipeline
# ENV names a samconfig.toml environment (default, sandbox, prod). Empty means "no AWS
# target configured": deploy goes to the local emulator instead of an account.
ENV ?=

# No telemetry from CI or developer machines, and no prompts.
export SAM_CLI_TELEMETRY := 0

REQUIREMENTS := $(wildcard src/*/requirements.txt services/*/requirements.txt)
TEMPLATES := template.yaml $(wildcard pipeline/*.yaml)
TRANSFORMED := .aws-sam/transformed/template.json
DOCKERFILES := $(wildcard services/*/Dockerfile)
PY_SOURCES := src tests scripts benchmarks services buildspecs tools
# Each service folder holds one package named after it (api-service -> api_service).
SERVICE_PACKAGES := services/service_kit/service_kit $(foreach s,$(wildcard services/*-service),$(s)/$(subst -,_,$(notdir $(s))))

.PHONY: help venv build validate lint test test-fast deploy destroy rehearse release-clock bench verdict clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(REQUIREMENTS)
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python 3.11+ is required for the tooling virtualenv")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev $(addprefix -r ,$(REQUIREMENTS))
	touch $@

venv: $(STAMP) ## Create .venv with every tool, test and runtime dependency

build: $(STAMP) ## sam build (finds a python3.13 interpreter for the Lambda runtime)
	PY313_DIR="$$(scripts/find-python313.sh)"; \
	PATH="$$PY313_DIR:$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build --cached --parallel

validate: $(STAMP) ## sam validate --lint and cfn-lint on every template
	$(BIN)/sam validate --lint --template template.yaml
	$(BIN)/cfn-lint $(TEMPLATES)

lint: validate ## Static checks: ruff, mypy (strict on src/), cfn-lint, sam validate, hadolint, checkov
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy src/health_check/health_check src/hooks/codedeploy_hooks tools/local_deploy $(SERVICE_PACKAGES)
	$(if $(DOCKERFILES),$(BIN)/hadolint $(DOCKERFILES))
	BC_SKIP_MAPPING=TRUE $(BIN)/checkov --quiet --compact --skip-download --framework cloudformation --file $(TEMPLATES)
# checkov again over what CloudFormation deploys: the SAM-generated function roles and policies.
	$(BIN)/python -m scripts.transform_template $(TRANSFORMED)
	BC_SKIP_MAPPING=TRUE $(BIN)/checkov --quiet --compact --skip-download --framework cloudformation --file $(TRANSFORMED)

test: lint ## The whole suite: every lint above, then pytest
	$(BIN)/pytest

test-fast: $(STAMP) ## pytest only
	$(BIN)/pytest -q

deploy: $(STAMP) ## Deploy: ENV=<samconfig env> to AWS, otherwise to the local emulator
ifeq ($(strip $(ENV)),)
	$(MAKE) --no-print-directory build
	PYTHONPATH=src/health_check $(BIN)/python -m tools.local_deploy deploy
else
	$(MAKE) --no-print-directory build
	$(BIN)/sam deploy --config-env $(ENV)
endif

destroy: $(STAMP) ## Delete the stack: ENV=<samconfig env>
ifeq ($(strip $(ENV)),)
	$(BIN)/python -m tools.local_deploy destroy
else
	$(BIN)/sam delete --config-env $(ENV)
endif

rehearse: $(STAMP) ## Rehearse a failed release on the local stack (after `make deploy`)
	PYTHONPATH=src/health_check $(BIN)/python -m tools.local_deploy rehearse

release-clock: $(STAMP) ## Print the release timings read from the templates
	$(BIN)/python scripts/release_clock.py

.PHONY: charts
charts: $(STAMP) ## Redraw the README's release charts (docs/images/) from their scenarios
	$(BIN)/python -m tools.rehearsal.chart

bench: $(STAMP) ## Run the benchmarks (figures, not pass/fail)
	for bench in benchmarks/*.py; do echo "== $$bench"; $(BIN)/python "$$bench"; done

verdict: $(STAMP) ## Health verdict from a terminal: make verdict ARGS="--environment staging --alarm-prefix dev-staging-"
	PYTHONPATH=src/health_check $(BIN)/python -m health_check.cli $(ARGS)

clean: ## Remove build output and the virtualenv
	rm -rf .aws-sam $(VENV) .pytest_cache .mypy_cache .ruff_cache
