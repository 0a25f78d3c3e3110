# The two commands README starts with: `make up` runs the system, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp

.PHONY: up demo test lint bench clean

# The request path compiled with mypyc (hatch_build.py, docs/benchmarks.md "Compiled build"): the
# install builds it; an edit to one of its sources rebuilds it in place before the tests run (the
# package would otherwise import the sources, correctly but slower, and say so).
COMPILED := $(shell $(PYTHON) hatch_build.py --sources 2>/dev/null)
BUILD    = src/portway/_build.json

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev,shop]'
	touch $(STAMP)

# Order-only on the install, which writes the stamp itself: only a later edit rebuilds.
$(BUILD): $(COMPILED) hatch_build.py | $(STAMP)
	$(PY) hatch_build.py

# The whole shop on this machine (docs/local.md): every service on a unix socket in a private run
# directory, the gateway the only TCP port. The time is taken before the venv is built so that
# `portway up` can print how long a fresh `make up` took to answer its first request.
UP_STARTED_AT := $(shell $(PYTHON) -c 'import time; print(time.time())' 2>/dev/null)
up: $(BUILD)
	PORTWAY_STARTED_AT=$(UP_STARTED_AT) $(VENV)/bin/portway up examples/shop/portway.yaml $(UP_ARGS)

# The gateway on examples/minimal.yaml in front of a demo service on a unix socket.
RUN_DIR = $(CURDIR)/.portway/run
demo: $(BUILD)
	@mkdir -p -m 700 $(RUN_DIR)
	@$(PY) examples/demo_upstream.py $(RUN_DIR)/demo.sock & demo=$$!; \
	trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	echo "portway: try  curl -s http://127.0.0.1:8080/api/demo/hello  (Ctrl-C stops)"; \
	PORTWAY_RUN_DIR=$(RUN_DIR) $(VENV)/bin/portway run examples/minimal.yaml

# pytest exits 5 when it collected nothing; that is not a failure of the code under test.
# The suite runs on the default build; the gateway's unit, protocol and integration tiers run again
# on the other one (the pure-Python sources, with PORTWAY_PURE=1), so both builds behave alike.
SECOND_PASS ?= tests/unit tests/protocol tests/integration/gateway
test: $(BUILD)
	@$(PY) -c 'import portway.build as b; print("make test: the suite on the", b.describe())'
	$(PY) -m pytest $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc; }
	@if $(PY) -c 'import sys, portway.build as b; sys.exit(not b.CURRENT.compiled)'; then \
	  echo "make test: again on the pure-Python build (PORTWAY_PURE=1): $(SECOND_PASS)"; \
	  PORTWAY_PURE=1 $(PY) -m pytest $(SECOND_PASS) $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc; }; \
	else \
	  echo "make test: no second pass, the default build is already the pure-Python one:" \
	    "$$($(PY) -c 'import portway.build as b; print(b.describe())')"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: $(BUILD)
	bash bench/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(BUILD)
	find src -name '*.so' -delete
