# ppflow: one virtual environment in .venv, built from pyproject.toml and constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test serve bench lint lock clean installed-wheel
PREFECT_PORT ?= 4200
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

demo: $(STAMP)  ## seed the demonstration program on the embedded SQLite default and print it
	$(BIN)/ppflow demo

test: $(STAMP)  ## the whole test suite (PostgreSQL tests need PPFLOW_TEST_DATABASE_URL)
	$(BIN)/ruff check ppflow flows tests
	$(BIN)/ppflow templates check
	$(BIN)/pytest

# Loopback only: a Prefect server other machines reach needs basic authentication (the
# README's production recipe); tests/flows/test_closed_server.py holds this to 127.0.0.1.
# Ctrl-C (or SIGTERM to this shell) stops ppflow serve first, while the Prefect server
# still answers (the server and the sink run in sessions of their own, out of Ctrl-C's
# reach), so that it can hand back what it was starting; then the server and the sink.
serve: $(STAMP)  ## Prefect server and UI, the mail sink and every deployment; Ctrl-C stops all
	@echo "Prefect UI on http://127.0.0.1:$(PREFECT_PORT), mail sink on 127.0.0.1:8025"
	@setsid $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) & server=$$!; \
	setsid $(BIN)/ppflow mail-sink & sink=$$!; \
	trap 'kill $$server $$sink 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	until $(BIN)/python -c 'import sys, urllib.request as r; r.urlopen(sys.argv[1], timeout=2)' \
		http://127.0.0.1:$(PREFECT_PORT)/api/health 2>/dev/null; do sleep 1; done; \
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(BIN)/ppflow serve & serve=$$!; \
	trap 'kill -TERM $$serve 2>/dev/null; wait $$serve; exit 130' INT TERM; \
	wait $$serve

bench: $(STAMP)  ## every benchmark beside its floor; table and plot in tests/benchmarks/results/
	$(BIN)/python -m tests.benchmarks.bench_all $(BENCH_ARGS)

installed-wheel:  ## build the wheel, install it in a fresh venv and run ppflow from outside the checkout
	PYTHON=$(PYTHON) .ci/installed-wheel

$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ppflow needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check ppflow flows tests
	$(BIN)/ruff format --check ppflow flows tests

lock: $(STAMP)  ## re-pin constraints.txt from the current environment
	{ grep '^#' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^ppflow'; } \
		> constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV)
