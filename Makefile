# spotkit -- the front door. `make help` lists the targets.
# ENV selects the environment (settings.yaml): local (the emulator, default), dev, prod.
ENV ?= local
PYTHON ?= python3
VENV := .venv
SPOTKIT := $(VENV)/bin/spotkit
PYTEST := $(VENV)/bin/pytest
export SPOTKIT_EMULATOR_PORT ?= 4566

.DEFAULT_GOAL := help
.PHONY: help setup local-up local-down local-status package init plan apply destroy outputs \
        chaos-spot chaos-rollback bench test test-unit lint lint-tools docs docs-check fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else "spotkit needs Python >= 3.9")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed ## Python venv + Terraform (>= 1.5, else 1.5.7 built) + hashicorp/aws (registry or a filesystem mirror) + checkov tool venv in ~/.cache/spotkit (idempotent)
	@$(SPOTKIT) setup --scan-tools >/dev/null

local-up: setup ## Start the local AWS emulator on 127.0.0.1:$SPOTKIT_EMULATOR_PORT (idempotent)
	@$(SPOTKIT) local up

local-down: $(VENV)/.installed ## Stop the local AWS emulator
	@$(SPOTKIT) local down

local-status: $(VENV)/.installed ## Is the emulator up, and what does it hold
	@$(SPOTKIT) local status

package: $(VENV)/.installed ## Build deterministic Lambda zips into build/ (PACKAGE_ARGS=--compile-for python3.N)
	@$(SPOTKIT) package $(PACKAGE_ARGS)

init: setup ## terraform init for ENV
	@$(SPOTKIT) tf init --env $(ENV)

plan: setup package ## terraform plan for ENV
	@$(SPOTKIT) tf plan --env $(ENV)

apply: setup package $(if $(filter local,$(ENV)),local-up) ## terraform apply for ENV (ENV=local starts the emulator)
	@$(SPOTKIT) tf apply --env $(ENV)

destroy: setup $(if $(filter local,$(ENV)),local-up) ## terraform destroy for ENV
	@$(SPOTKIT) tf destroy --env $(ENV)

outputs: setup ## terraform output -json for ENV
	@$(SPOTKIT) tf outputs --env $(ENV)

chaos-spot: $(if $(filter local,$(ENV)),apply,setup) ## Interrupt Spot instances under running jobs (FIS by default), prove every job comes back once (options: spotkit chaos spot --help)
	@$(SPOTKIT) chaos spot --env $(ENV) $(CHAOS_ARGS)
	@$(if $(filter local,$(ENV)),echo "The emulator is still up (reports: reports/chaos-latest.{json,xml,html}). \
	make outputs | destroy | local-down when you are done.")

chaos-rollback: setup ## Undo an interrupted chaos run from its state file (stop FIS, delete its template, restore capacity, end probe jobs)
	@$(SPOTKIT) chaos rollback

bench: setup package ## Benchmarks on a bench emulator of their own (table + reports/bench-latest.json)
	@$(SPOTKIT) bench $(BENCH_ARGS)

.PHONY: scan
scan: $(VENV)/.installed ## checkov (offline; its own tool venv, built on first use) + spotkit's Spot policies over modules/ and terraform/; fails on a finding (SCAN_ARGS="--format cli,sarif,junitxml --output-dir reports/scan")
	@$(SPOTKIT) scan $(SCAN_ARGS)

test: setup ## All tests: unit (moto) + integration (emulator + real Terraform)
	$(PYTEST) -q $(PYTEST_ARGS)

test-unit: setup ## Fast tests only (no Terraform apply)
	$(PYTEST) -q -m "not integration" $(PYTEST_ARGS)

TOOLS_BIN := .tools/bin
# Every module and every root (a folder with a main.tf; terraform/shared only holds files the roots link).
TFLINT_DIRS = $(sort $(dir $(wildcard modules/*/main.tf terraform/*/main.tf)))
export TFLINT_PLUGIN_DIR := $(CURDIR)/.tools/tflint-plugins

lint-tools: $(VENV)/.installed ## Build tflint + AWS ruleset, terraform-docs, actionlint from the Go module proxy (cached in ~/.cache/spotkit)
	@$(SPOTKIT) setup --lint-tools >/dev/null

# A tool that could not be built (no Go, registry refused) is reported and skipped, never silently.
lint: $(VENV)/.installed ## ruff + terraform fmt -check + tflint (AWS ruleset) per module/root + module READMEs current
	@$(SPOTKIT) setup --lint-tools >/dev/null || echo "make lint: WARNING some lint tools could not be built (above); their checks are SKIPPED" >&2
	$(VENV)/bin/ruff check .
	$(TOOLS_BIN)/terraform fmt -check -recursive modules
	$(TOOLS_BIN)/terraform fmt -check -recursive terraform
	$(TOOLS_BIN)/terraform fmt -check -recursive examples
	@if [ -x $(TOOLS_BIN)/tflint ]; then rc=0; for d in $(TFLINT_DIRS); do \
	  echo "tflint --chdir=$$d"; $(TOOLS_BIN)/tflint --chdir=$$d --config=$(CURDIR)/.tflint.hcl --format=compact || rc=1; \
	  done; exit $$rc; \
	else echo "make lint: SKIPPED tflint: $(TOOLS_BIN)/tflint not built (make lint-tools)" >&2; fi
	@$(MAKE) --no-print-directory docs-check

docs: ## Regenerate the tables in modules/*/README.md and examples/*/README.md with terraform-docs (.terraform-docs.yml)
	@for d in modules/*/ examples/*/; do $(TOOLS_BIN)/terraform-docs --config $(CURDIR)/.terraform-docs.yml $$d >/dev/null || exit 1; \
	  echo "$${d}README.md"; done

docs-check: ## Fail when a module or example README's terraform-docs tables are out of date
	@if [ -x $(TOOLS_BIN)/terraform-docs ]; then rc=0; for d in modules/*/ examples/*/; do \
	  $(TOOLS_BIN)/terraform-docs --config $(CURDIR)/.terraform-docs.yml --output-check $$d >/dev/null 2>&1 \
	  || { echo "out of date: $${d}README.md (make docs)" >&2; rc=1; }; done; exit $$rc; \
	else echo "make lint: SKIPPED terraform-docs check: $(TOOLS_BIN)/terraform-docs not built (make lint-tools)" >&2; fi

fmt: setup ## Format Terraform and Python, regenerate module README tables
	.tools/bin/terraform fmt -recursive
	$(VENV)/bin/ruff check --fix .
	@if [ -x $(TOOLS_BIN)/terraform-docs ]; then $(MAKE) --no-print-directory docs; fi

clean: ## Remove build outputs and reports (keeps .venv and .tools)
	rm -rf build reports
