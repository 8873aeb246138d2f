# analytics-dags: two commands on a fresh machine, `make run` and `make test`.
# Everything else here is a step they call, or a convenience for developers.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
UV         := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
STACK      := $(BIN)/python scripts/stack.py
DEMO_DIR   := .local/demo-data
DEMO_ARGS  := --seed 42 --courses 3 --days 5 --events-per-day 400
ENGAGEMENT_ARGS := --seed 42 --weeks 12 --users 2000 --events 60000 --start-monday 2024-01-01

.PHONY: help setup stack stack-test down demo-data run ui test lint format bench lock clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

setup: $(VENV)/.installed postgres-binaries chromium-browser  ## install uv, the virtualenv (from the development lock), PostgreSQL and Chromium

$(VENV)/.installed: requirements-dev.lock requirements.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@[ -x $(BIN)/python ] || $(UV) venv --quiet --python 3.11 $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements-dev.lock
	@touch $@

.PHONY: postgres-binaries
postgres-binaries:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql (server binaries for the local stack)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

# Headless Chromium renders the course KPI report in tests/integration/test_kpi_report_browser.py.
.PHONY: chromium-browser
chromium-browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian's chromium and fonts (headless browser for the report test)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi

stack: setup  ## start the demo stack (PostgreSQL, MongoDB wire server, moto S3) under .local/
	@$(STACK) up

stack-test: setup
	@$(STACK) --profile test up

down:  ## stop both stacks (only the processes they started)
	@$(STACK) down; $(STACK) --profile test down

$(DEMO_DIR)/manifest.json: $(wildcard scripts/demo_data/*.py) | setup
	$(BIN)/python -m scripts.demo_data edx $(DEMO_ARGS) --out $(DEMO_DIR)

demo-data: $(DEMO_DIR)/manifest.json  ## generate the demo data set (deterministic)

run: stack demo-data  ## run every DAG on the demo stack and print a summary
	@set -a; source .local/env; set +a; \
	  $(BIN)/python -m scripts.demo_data engagement $(ENGAGEMENT_ARGS) > .local/logs/engagement-data.log; \
	  $(BIN)/python -m scripts.demo_data bi > .local/logs/bi-data.log; \
	  $(BIN)/python -m scripts.demo_data messages > .local/logs/messages-data.log; \
	  $(BIN)/python scripts/run_demo.py

ui: stack demo-data  ## start `airflow standalone` against the demo stack (login admin / admin, local only)
	@set -a; source .local/env; set +a; \
	  export PATH="$(CURDIR)/$(BIN):$$PATH" AIRFLOW__CORE__PARALLELISM=4; \
	  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin; \
	  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$$AIRFLOW_HOME/local_passwords.json; \
	  echo '{"admin": "admin"}' > $$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE; \
	  echo "Airflow UI: http://localhost:8080   login: admin   password: admin   (local stack only)"; \
	  exec $(BIN)/python scripts/ui.py  # Ctrl-C / SIGTERM stop airflow standalone and all it started

lint: setup  ## ruff, including the Airflow (AIR) rules
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

test: stack-test lint  ## lint, then unit, integration and DAG tests against the test stack
	@set -a; source .local/test/env; set +a; $(BIN)/pytest tests/unit tests/integration tests/dags

bench: stack-test  ## every benchmark, then one report: .local/bench/report.md, report.json, plots (BENCH_ARGS=--small: reduced inputs)
	@# Every benchmark runs, even after one missed its target; the exit status says if any missed or failed.
	@set -a; source .local/test/env; set +a; $(BIN)/python scripts/bench_all.py $(BENCH_ARGS)

lock:  ## re-pin requirements.lock (runtime) and requirements-dev.lock (development, same runtime pins)
	$(UV) pip compile --quiet --python-version 3.11 requirements.txt -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 requirements-dev.txt --constraint requirements.lock -o requirements-dev.lock

clean: down  ## remove the local stack's data and the virtualenv
	rm -rf .local $(VENV)
