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

.PHONY: install local-model-install local-model local-model-stop test-local eval-local seed dev test lint format eval chaos bench clean

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

# --- a real model on this machine: SmolLM2-135M on llama-cpp-python's server ----------------
LOCAL_MODEL := $(BIN)/python -m conductor_cli.local_model
LOCAL_ENV = CONDUCTOR_MODEL_PROFILE=local CONDUCTOR_LOCAL_MODEL_URL=$$($(LOCAL_MODEL) url)
EVAL_LOCAL_LIMIT ?= 5

# Start the server on a free port (or reuse the running one); its URL goes to
# var/local-model.url: export CONDUCTOR_LOCAL_MODEL_URL=$$(cat var/local-model.url).
local-model: local-model-install
	$(LOCAL_MODEL) start

local-model-stop:
	$(LOCAL_MODEL) stop

# The real-model tests (tests/local): a server is started when none runs, and stopped after.
test-local: local-model-install seed
	@started=; url=$$($(LOCAL_MODEL) url 2>/dev/null) \
	  || { url=$$($(LOCAL_MODEL) start) && started=1; } || exit 1; \
	echo "local model at $$url"; status=0; \
	CONDUCTOR_LOCAL_MODEL_URL=$$url $(BIN)/pytest -p no:cacheprovider -m local tests/local \
	  || status=$$?; \
	if [ -n "$$started" ]; then $(LOCAL_MODEL) stop; fi; exit $$status

# `conductor eval` on the local model, a few examples, its output in var/reports/eval-local.txt.
eval-local: local-model seed
	mkdir -p var/reports
	@status=0; $(LOCAL_ENV) CONDUCTOR_CACHE=off $(BIN)/conductor eval support --profile local --limit $(EVAL_LOCAL_LIMIT) \
	  > var/reports/eval-local.txt 2>&1 || status=$$?; \
	cat var/reports/eval-local.txt; exit $$status

chaos: seed
	$(BIN)/conductor chaos

bench: seed
	$(BIN)/conductor bench --json var/bench.json

clean:
	rm -rf var .langgraph_api .pytest_cache
