# The two commands README starts with: `make up` runs the system, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp

.PHONY: up demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev,shop]'
	touch $(STAMP)

# The whole shop on this machine (docs/local.md): every service on a unix socket in a private run
# directory, the gateway the only TCP port. The time is taken before the venv is built so that
# `portway up` can print how long a fresh `make up` took to answer its first request.
UP_STARTED_AT := $(shell $(PYTHON) -c 'import time; print(time.time())' 2>/dev/null)
up: $(STAMP)
	PORTWAY_STARTED_AT=$(UP_STARTED_AT) $(VENV)/bin/portway up examples/shop/portway.yaml $(UP_ARGS)

# The gateway on examples/minimal.yaml in front of a demo service on a unix socket.
RUN_DIR = $(CURDIR)/.portway/run
demo: $(STAMP)
	@mkdir -p -m 700 $(RUN_DIR)
	@$(PY) examples/demo_upstream.py $(RUN_DIR)/demo.sock & demo=$$!; \
	trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	echo "portway: try  curl -s http://127.0.0.1:8080/api/demo/hello  (Ctrl-C stops)"; \
	PORTWAY_RUN_DIR=$(RUN_DIR) $(VENV)/bin/portway run examples/minimal.yaml

# pytest exits 5 when it collected nothing; that is not a failure of the code under test.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc; }

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	bash bench/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
