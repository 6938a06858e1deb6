# Basisdienste — every command a developer or CI needs. A fresh machine needs only `make run` or
# `make test`: both bootstrap what is missing (uv, the locked Python packages, Kafka's jars,
# PostgreSQL from Debian's packages) on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
UV_VERSION  := 0.13.9
TOOLS       := .tools
UV          := $(TOOLS)/bin/uv
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.synced

export UV_PROJECT_ENVIRONMENT := $(VENV)
# Use the machine's Python 3.11; never download an interpreter (only the package registries are reachable).
export UV_PYTHON_DOWNLOADS := never
export PYTHONPATH := $(CURDIR)

.PHONY: help bootstrap infra infra-stop run test test-fast lint format contracts bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON_BOOT) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	@touch $@

bootstrap: $(STAMP) ## install uv and the locked Python dependencies into .venv

infra: ## start (or reuse) the local Kafka broker and PostgreSQL cluster
	bash deploy/local/postgres.sh start
	bash deploy/local/kafka.sh start

infra-stop: ## stop the local Kafka broker and PostgreSQL cluster
	bash deploy/local/kafka.sh stop
	bash deploy/local/postgres.sh stop

run: bootstrap ## start Kafka and all six processes (SQLite under .data/ unless <SERVICE>_DATABASE_URL is set)
	$(PY) deploy/local/run.py

lint: bootstrap ## ruff, mypy and the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kit contracts services gateway tools bench
	$(VENV)/bin/lint-imports

format: bootstrap ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint infra ## lint, then the whole test suite against real Kafka and PostgreSQL
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: bootstrap infra ## the test suite without lint and without the slow outage tests
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

contracts: bootstrap ## write event JSON Schemas, the AsyncAPI document and every service's OpenAPI
	$(PY) -m tools.contracts

bench: bootstrap infra ## run the benchmarks against their peers (never part of make test)
	$(PY) -m bench.events
	$(PY) -m bench.gateway
	$(PY) -m bench.catalogue
	$(PY) -m bench.catalogue.relevance
	$(PY) -m bench.identity

clean: ## remove local state (databases, Kafka data, caches), not the installed tools
	rm -rf .data .run .pytest_cache .mypy_cache .ruff_cache
