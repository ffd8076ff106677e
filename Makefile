# Conductor: every target sets itself up from a fresh clone (virtualenv, install, seeded store).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DB ?= var/conductor.db
HOST ?= 127.0.0.1
PORT ?= 2024
DEV_FLAGS ?=

.PHONY: install seed dev test lint format eval chaos bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet -e . --group dev
	touch $(STAMP)

install: $(STAMP)

# With DATABASE_URL set, the store is that Postgres database, and that is what is seeded.
seed: install
	$(BIN)/conductor seed $(if $(DATABASE_URL),,--db $(DB))

dev: seed
	CONDUCTOR_DB=$(DB) $(BIN)/langgraph dev --no-browser --host $(HOST) --port $(PORT) $(DEV_FLAGS)

test: seed
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

eval: seed
	$(BIN)/conductor eval

chaos: seed
	$(BIN)/conductor chaos

bench: seed
	$(BIN)/conductor bench --json var/bench.json

clean:
	rm -rf var .langgraph_api .pytest_cache
