# The two commands of the README: `make demo` and `make test`. Both do all set-up themselves
# and are idempotent: a second run reuses the venv, the cached OpenSearch and the running node.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-noto-cjk zbar-tools redis-server
PROMTOOL := $(BIN)/promtool

.PHONY: install lock opensearch browser-deps monitoring-deps test demo lint bench clean-node relevance screenshots soak audit openapi

# Exactly the versions and hashes of requirements.lock (the dev extra, which includes the
# relevance one), then the project itself without resolving anything: every machine gets the
# same reading dictionary and libraries, hence the same match keys.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Renew the locks after editing pyproject.toml (pins already there are kept; add
# LOCK_UPGRADE=--upgrade to move everything to the newest allowed versions). docker/ gets the
# runtime subset, at the same versions.
UV_VERSION := 0.13.9
UV := $(VENV)/lock-tools/bin/uv
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" --quiet
lock:
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV)/lock-tools && $(VENV)/lock-tools/bin/pip install -q uv==$(UV_VERSION); }
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(LOCK_UPGRADE) -o requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -c requirements.lock -o docker/requirements.lock

opensearch: install
	$(BIN)/mochinushi opensearch up

# The browser tests drive Debian's Chromium (no browser download); Japanese text needs the
# Noto CJK fonts, and the printed QR code is read back with zbar. redis-server: the test of
# several API processes sharing one rate-limit store starts its own on a free port.
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ] || ! dpkg -s fonts-noto-cjk zbar-tools redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	  else \
	    echo "missing browser packages: sudo apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; \
	  fi; \
	fi

# promtool checks and unit-tests the alert rules (tests/ops/test_monitoring.py): Debian's, taken
# out of the `prometheus` package without installing it (which would start a server).
monitoring-deps: $(PROMTOOL)
$(PROMTOOL): | $(STAMP)
	@if command -v promtool >/dev/null 2>&1; then ln -sf "$$(command -v promtool)" $@; \
	else \
	  tmp=$$(mktemp -d) && cd $$tmp && \
	  if ! apt-get download -qq prometheus 2>/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get download -qq prometheus; \
	    else echo "missing promtool: sudo apt-get update, or install Prometheus' promtool on PATH" >&2; exit 1; fi; \
	  fi && dpkg-deb -x prometheus_*.deb root && cp root/usr/bin/promtool $(CURDIR)/$@ && \
	  cd / && rm -rf $$tmp; \
	fi

test: opensearch browser-deps monitoring-deps
	$(BIN)/python -m pytest -q

# docs/openapi.json, for front-end developers (tests/ops/test_openapi_document.py keeps it in sync).
openapi: install
	MOCHINUSHI_UPDATE_OPENAPI=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/ops/test_openapi_document.py

demo: opensearch
	$(BIN)/mochinushi demo

screenshots: opensearch browser-deps
	MOCHINUSHI_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/web/test_web_browser.py -k found_reference

# Long fault runs: 3-node local clusters (the default one on ports 9210-9212, a throw-away one on
# free ports), a node SIGKILLed under load; writes var/faults/faults.json (the tracked
# bench/results/faults.json only with MOCHINUSHI_UPDATE_RESULTS=1). About 3 minutes on 2 cores.
soak: opensearch
	$(BIN)/python -m pytest -q -m soak tests/reliability

# Known vulnerabilities in the installed packages. Fails only when one is found; if the
# advisory service is unreachable or audits nothing, it warns and passes.
audit: install
	@rm -f $(VENV)/audit.json
	-$(BIN)/pip-audit --skip-editable --progress-spinner off -f json -o $(VENV)/audit.json
	$(BIN)/python .ci/audit_gate.py $(VENV)/audit.json

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy analyzers indexer search_api matching mappings mochinushi relevance

clean-node:
	-$(BIN)/mochinushi opensearch down

# Relevance reports, side by side: our own 200k synthetic set (production density; weights were
# first tuned on it) and the two independent sets in $(EVAL_SETS) (another generator, another
# error model; dev is the one tuned on now). Writes bench/results/relevance/<set>/ and
# bench/results/relevance/side_by_side.md.
RELEVANCE_RECORDS ?= 200000
RELEVANCE_CHECKS ?= 4000
EVAL_SETS ?= ../shared/eval
relevance: opensearch
	$(BIN)/mochinushi synth --records $(RELEVANCE_RECORDS) --checks $(RELEVANCE_CHECKS) --seed 2026 --out var/relevance-$(RELEVANCE_RECORDS)
	MOCHINUSHI_ALIAS=relevance-$(RELEVANCE_RECORDS) $(BIN)/mochinushi index var/relevance-$(RELEVANCE_RECORDS)/records.jsonl --replicas 0 > /dev/null
	mkdir -p bench/results/relevance/own var/eval
	MOCHINUSHI_ALIAS=relevance-$(RELEVANCE_RECORDS) $(BIN)/mochinushi eval var/relevance-$(RELEVANCE_RECORDS)/checks.jsonl --out bench/results/relevance/own | tee bench/results/relevance/own/report.txt
	for set in dev dev-dense; do \
	  MOCHINUSHI_ALIAS=eval-$$set $(BIN)/mochinushi index $(EVAL_SETS)/$$set/records.jsonl.gz --replicas 0 --quarantine var/eval/$$set.quarantine.jsonl > /dev/null && \
	  mkdir -p bench/results/relevance/$$set && \
	  MOCHINUSHI_ALIAS=eval-$$set $(BIN)/mochinushi eval $(EVAL_SETS)/$$set/checks.jsonl.gz --out bench/results/relevance/$$set | tee bench/results/relevance/$$set/report.txt || exit 1; \
	done
	$(BIN)/python -m relevance.side_by_side own=bench/results/relevance/own/evaluation.json dev=bench/results/relevance/dev/evaluation.json dev-dense=bench/results/relevance/dev-dense/evaluation.json > bench/results/relevance/side_by_side.md
