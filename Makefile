# The two commands of the README: `make demo` and `make test`. Both do all set-up themselves
# and are idempotent: a second run reuses the venv, the cached OpenSearch and the running node.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install opensearch test demo lint bench clean-node

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

opensearch: install
	$(BIN)/mochinushi opensearch up

test: opensearch
	$(BIN)/python -m pytest -q

demo: opensearch
	$(BIN)/mochinushi demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy analyzers indexer search_api mappings mochinushi relevance

clean-node:
	-$(BIN)/mochinushi opensearch down
