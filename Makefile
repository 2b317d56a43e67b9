# Every target installs what it needs through the virtualenv stamp, so a fresh clone needs
# nothing but python3 (3.11+) and, for `sam build`, a python3.13 interpreter (pyenv is fine).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs exactly uv.lock. It is bootstrapped from PyPI into the virtualenv with the pip
# that `python3 -m venv` brings, so nothing but python3 is needed; the lock then pins it too.
UV_BOOTSTRAP := uv>=0.9,<1
UV := $(BIN)/uv
STACK_NAME ?= microservices-pipeline
# ENV names a samconfig.toml environment (default, sandbox, prod). Empty means "no AWS
# target configured": deploy goes to the local emulator instead of an account.
ENV ?=
# pytest workers: xdist spreads the suite over the machine's cores (override: PYTEST_WORKERS=1),
# a module per worker, so a module-scoped fixture (a `sam build`, a deployment) is made once.
PYTEST_WORKERS ?= auto
# `make test TIMED=time` prints each part's time (the table in docs/development.md).
TIMED ?=

# No telemetry from CI or developer machines, and no prompts.
export SAM_CLI_TELEMETRY := 0
# Python keeps compiled modules (and pytest its assertion-rewritten tests) in __pycache__ folders
# (git-ignored). A machine that sets PYTHONDONTWRITEBYTECODE made every test process, emulator and
# service compile the project again and pytest rewrite every test module: about 5 CPU-seconds
# per process, each run.
unexport PYTHONDONTWRITEBYTECODE

TEMPLATES := template.yaml $(wildcard pipeline/*.yaml)
TRANSFORMED := .aws-sam/transformed/template.json
DOCKERFILES := $(wildcard services/Dockerfile)
PY_SOURCES := src tests scripts benchmarks services buildspecs tools
# Each service folder holds one package named after it (api-service -> api_service).
SERVICE_PACKAGES := services/service_kit/service_kit $(foreach s,$(wildcard services/*-service),$(s)/$(subst -,_,$(notdir $(s))))
CHECKOV := BC_SKIP_MAPPING=TRUE $(BIN)/checkov --quiet --compact --skip-download --framework cloudformation

.PHONY: help venv lock requirements build validate lint secrets test test-fast deploy destroy drill rehearse release-clock \
	bench verdict acceptance invoke clean lint-ruff lint-mypy lint-cfn lint-hadolint lint-checkov preflight

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python 3.11+ is required for the tooling virtualenv")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(UV_BOOTSTRAP)"

# Exactly the lock: tooling, tests and every function's and service's runtime dependencies
# (pyproject.toml's groups dev and runtime). --frozen: never re-resolve, fail if the lock is stale.
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(BIN)/python
	touch $@

venv: $(STAMP) ## Create .venv with exactly uv.lock (every tool, test and runtime dependency)

lock: | $(UV) ## Move uv.lock to the newest versions pyproject.toml's bounds allow (then `make requirements`, commit both)
	$(UV) lock --upgrade

requirements: $(STAMP) ## Write every function's and service's requirements.txt from uv.lock, pinned with hashes
	$(BIN)/python -m scripts.export_requirements

build: $(STAMP) ## sam build (finds a python3.13 interpreter for the Lambda runtime)
	PY313_DIR="$$(scripts/find-python313.sh)"; \
	PATH="$$PY313_DIR:$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build --cached --parallel

validate: $(STAMP) ## cfn-lint on every template (what `sam validate --lint` runs, on all of them)
	$(TIMED) $(BIN)/cfn-lint $(TEMPLATES)

# The linters are independent, so `make -j lint` (and `make test`) runs them side by side.
lint: lint-ruff lint-mypy lint-cfn lint-hadolint lint-checkov ## Static checks: ruff, mypy (strict), cfn-lint, hadolint, checkov

lint-ruff: $(STAMP)
	$(TIMED) $(BIN)/ruff check $(PY_SOURCES)
	$(TIMED) $(BIN)/ruff format --check $(PY_SOURCES)

# A file whose content passed under the same baseline and detect-secrets is not scanned again
# (scripts/scan_secrets.py; the record is .cache/secrets-scan.json).
secrets: $(STAMP) ## Secret detection: fail on any secret in a tracked file not already in .secrets.baseline
	$(TIMED) $(BIN)/python -m scripts.scan_secrets


lint-mypy: $(STAMP)
	$(TIMED) $(BIN)/mypy src/health_check/health_check src/hooks/codedeploy_hooks src/synthetic_client/synthetic_client tools/local_deploy tools/rehearsal tools/cfn_render.py tools/preflight.py $(SERVICE_PACKAGES)
	$(TIMED) $(BIN)/mypy tests/integration

lint-cfn: validate

lint-hadolint: $(STAMP)
	$(if $(DOCKERFILES),$(TIMED) $(BIN)/hadolint $(DOCKERFILES))

# One checkov run over the templates as written and over what CloudFormation deploys (the
# SAM-generated function roles and policies): its start-up is most of its time.
lint-checkov: $(STAMP)
	$(TIMED) $(BIN)/python -m scripts.transform_template $(TRANSFORMED)
	$(TIMED) $(CHECKOV) $(addprefix --file ,$(TEMPLATES) $(TRANSFORMED))

test: $(STAMP) ## The whole suite: every linter and pytest, side by side
	$(MAKE) --no-print-directory --jobs=6 --output-sync=target lint secrets test-fast TIMED="$(TIMED)"

# Modules go to the workers in the order they are collected (tests/contract, local, rehearsal and
# reliability, the long ones, first; hundreds of short unit tests last to even out the end).
# xdist's default order, most tests first, left the one-test property modules (17 s and 10 s)
# for the end, with the other worker idle.
test-fast: $(STAMP) ## pytest only (in parallel over the machine's cores)
	$(TIMED) $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder

# make exits 2 whenever a recipe fails, whatever the command's own exit status. For the commands
# whose status means something (verdict, rehearse, release-clock, drill, invoke, acceptance:
# 0 ok, 1 a failed verdict or check, 2 an error), $(call keeping_status,<command>) prints the
# command, runs it, and when it fails with another status than make's own 2, names that status
# and that the command run directly returns it.
keeping_status = @printf '%s\n' '$(subst ','\'',$(strip $(1)))'; $(1) || { status=$$?; \
	if [ $$status -ne 2 ]; then printf 'make $@: the command above exited %s (make itself exits 2 for any failure: run the command directly for its own status)\n' "$$status" >&2; fi; \
	exit $$status; }

# Every target that talks to AWS runs this first (deploy ENV=, destroy ENV=; acceptance runs the
# same check in its own entry point): ENV names a samconfig.toml environment, and botocore resolves
# a region and credentials. A refusal is one line, before any lint, build or test.
PREFLIGHT = $(BIN)/python -m tools.preflight "$(ENV)"

preflight: $(STAMP) ## Check ENV, the AWS region and credentials the way sam and botocore will read them
	@$(PREFLIGHT)

deploy: $(STAMP) ## Deploy: ENV=<samconfig env> to AWS, otherwise to the local emulator (templates linted first)
# One step after the other, also under `make -j`: nothing builds before the checks pass.
ifeq ($(strip $(ENV)),)
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory build
	PYTHONPATH=src/health_check $(BIN)/python -m tools.local_deploy deploy
else
	@$(PREFLIGHT)
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory build
	$(BIN)/sam deploy --config-env $(ENV)
endif

destroy: $(STAMP) ## Delete the stack: ENV=<samconfig env>, otherwise the local stack and its emulator
ifeq ($(strip $(ENV)),)
	$(BIN)/python -m tools.local_deploy destroy
else
	@$(PREFLIGHT)
	$(BIN)/python -m scripts.destroy_stack --config-env $(ENV) $(if $(KEEP_SOURCE),--keep-source-repository)
endif

invoke: $(STAMP) ## Run one function's handler here against the local stack, no Docker: FUNCTION=<logical id> EVENT=events/<file>.json
	$(call keeping_status,$(BIN)/python -m tools.local_deploy invoke "$(FUNCTION)" "$(EVENT)")

rehearse: $(STAMP) ## Play releases through the templates and the Lambda code on a virtual clock: SCENARIO=<file>, ARGS=--json
	$(call keeping_status,$(BIN)/python -m tools.rehearsal $(if $(SCENARIO),--scenario $(SCENARIO)) $(ARGS))

drill: $(STAMP) ## Put a production alarm into ALARM on the local stack and watch the verdict fail, then recover
	$(call keeping_status,PYTHONPATH=src/health_check $(BIN)/python -m tools.local_deploy drill)

release-clock: $(STAMP) ## Print the release timings read from the templates
	$(call keeping_status,$(BIN)/python scripts/release_clock.py)

.PHONY: charts
charts: $(STAMP) ## Redraw the README's release charts and the detection curve (docs/images/)
	$(BIN)/python -m tools.rehearsal.chart
	$(BIN)/python -m tools.rehearsal.detection_curve

bench: $(STAMP) ## Run the benchmarks (figures, not pass/fail)
	for bench in benchmarks/*.py; do echo "== $$bench"; $(BIN)/python "$$bench"; done

verdict: $(STAMP) ## Health verdict from a terminal: make verdict ARGS="--environment staging --alarm-prefix dev-staging-"
	$(call keeping_status,PYTHONPATH=src/health_check $(BIN)/python -m health_check.cli $(ARGS))

acceptance: $(STAMP) ## Settle docs/assumptions.md on a sandbox stack: make acceptance ENV=sandbox (never prod)
	$(call keeping_status,$(BIN)/python -m tests.integration.acceptance.run --env "$(ENV)")

clean: ## Remove build output and the virtualenv
	rm -rf .aws-sam $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache
