# Conductor: every target sets itself up from a fresh clone (virtualenv, install, seeded store).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCAL_STAMP := $(VENV)/.local-model-stamp
DB ?= var/conductor.db
HOST ?= 127.0.0.1
PORT ?= 2024
DEV_FLAGS ?=

.PHONY: install local-model-install seed dev test lint format eval chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet -e . --group dev
	touch $(STAMP)

install: $(STAMP)

# llama-cpp-python builds llama.cpp from source (~8 min on 2 cores); pip's cache (PIP_CACHE_DIR,
# default ~/.cache/pip) keeps the built wheel, so a second venv installs it in seconds.
$(LOCAL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[local-model]"
	touch $(LOCAL_STAMP)

local-model-install: $(LOCAL_STAMP)

seed: install
	$(BIN)/conductor seed --db $(DB)

dev: seed
	$(BIN)/langgraph dev --no-browser --host $(HOST) --port $(PORT) $(DEV_FLAGS)

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

clean:
	rm -rf var .langgraph_api .pytest_cache
