# The project's commands. `make demo` and `make test` are the README's quick start.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := shared services devstack migrations sandbox tests bench ops

.PHONY: install up down demo test lint format clean bench-recorder bench-import bench-discovery run-recorder

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install-system-deps.sh
	scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<26"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]' \
		--config-settings editable_mode=compat
	touch $(STAMP)

## Start Kafka + PostgreSQL on loopback, migrate, create the topics; print the exports.
up: install
	@$(BIN)/python -m ops.bootstrap

## The main job, for real, on the embedded stack: a sandboxed library with gaps, fake
## Audiobookshelf/Audible/indexer, two real qBittorrents, the four services. Exit 0 iff
## every gap was filled.
demo: install
	$(BIN)/python -m sandbox.demo

down: install
	$(BIN)/abauto stack down

## The whole test suite, on the project's own real Kafka and PostgreSQL.
test: install .tools/logcli
	$(BIN)/pytest

## Loki's logcli, which runs the LogQL queries of docs/logs.md in the tests: built once
## from the Go module proxy (about 7 minutes). Without it that one test is skipped.
.tools/logcli: scripts/build-logcli.sh
	-scripts/build-logcli.sh

## Recorder throughput against raw asyncpg upserts; the last line is machine-readable.
bench-recorder: install
	$(BIN)/python -m bench.recorder

## Placement to Audiobookshelf item on a busy server (fake ABS), against the old way.
bench-import: install
	$(BIN)/python -m bench.import_arrival

## Discovery on a generated 20,000-book library (fake ABS/Audible), full run then re-run.
bench-discovery: install
	$(BIN)/python -m bench.discovery

## The recorder against the local stack (make up first, or set the variables).
run-recorder: install
	eval "$$($(BIN)/abauto stack up)" && $(BIN)/abauto run recorder

lint: install
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy $(CODE)
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
