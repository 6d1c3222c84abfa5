# Beacon's everyday commands. Every target sets up .venv first if it is missing or stale.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install browser demo test test-fast dev api dagster bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

## Run the whole pipeline end to end on the embedded default (DuckDB + SQLite + local fakes).
demo: install
	$(BIN)/beacon demo

## Headless Chromium for the Dagster UI test (tests/ui), from Debian's packages; needs root.
## Without it the UI test skips locally and fails under CI=true.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium not installed: tests/ui will skip (and fail under CI=true)"

## Run the test suite on both back ends (PostgreSQL from BEACON_TEST_PG_URL or 127.0.0.1:5432).
test: install browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

## Start the Dagster UI (port 3000) and the API (port 8000) together.
dev: install
	$(BIN)/beacon dev

## Run every benchmark; figures go to bench/results/ (JSON + markdown).
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf .beacon dbt/target dbt/logs
