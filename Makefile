# ppflow: one virtual environment in .venv, built from pyproject.toml and constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test typecheck serve bench lint lock clean installed-wheel
PREFECT_PORT ?= 4200
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

demo: $(STAMP)  ## seed the demonstration program on the embedded SQLite default and print it
	$(BIN)/ppflow demo

# The unit tier runs a second time with the clock started years ahead and left running
# (Debian's faketime): a date written into a test, or a use case reading the real time,
# fails there rather than on the day the calendar reaches it.
LATER ?= 2031-01-01 10:00:00
test: typecheck  ## the whole test suite (PostgreSQL tests need PPFLOW_TEST_DATABASE_URL)
	$(BIN)/ruff check ppflow flows tests
	$(BIN)/ppflow templates check
	$(BIN)/pytest
	@if command -v faketime >/dev/null; then \
		echo "the unit tier again, on $(LATER):"; \
		FAKETIME_DONT_RESET=1 faketime -f "@$(LATER)" $(BIN)/pytest -q tests/unit; \
	else echo "faketime is not installed (Debian: apt-get install faketime): the unit tier at a later date is skipped"; fi

# mypy over ppflow/, flows/ and the unit tier's fakes ([tool.mypy] in pyproject.toml says
# which). flows/ is the package ppflow_flows, a name mypy finds only under a folder of that
# name: a link in $(TYPES) gives it one, and the paths it reports are put back as flows/.
TYPES := $(VENV)/typecheck
typecheck: $(STAMP)  ## mypy: 0 errors or the target fails
	@mkdir -p $(TYPES) && ln -sfn "$(CURDIR)/flows" $(TYPES)/ppflow_flows
	@MYPYPATH=$(TYPES) $(BIN)/mypy > $(TYPES)/report.txt; status=$$?; \
		sed 's#^$(TYPES)/ppflow_flows/#flows/#' $(TYPES)/report.txt; exit $$status

# Loopback only: a Prefect server other machines reach needs basic authentication (the
# README's worker recipe); tests/flows/test_make_serve.py finds its ports shut to other addresses.
# flows/office.py makes the data directory, starts the three processes, stops them all when
# one ends (naming it), and stops them in order on Ctrl-C; tests/flows/test_make_serve.py.
serve: $(STAMP)  ## Prefect server and UI, the mail sink and every deployment; Ctrl-C stops all
	@$(BIN)/python -m ppflow_flows.office --port $(PREFECT_PORT)

# Each tier exits 1 when a target is not met (the README's Benchmarks section); CI runs the
# quick one. QUICK=1 makes `make bench` the quick tier.
.PHONY: bench-quick bench-large
bench: $(STAMP)  ## benchmarks up to 10k advisors (< 10 min); table and plot in tests/benchmarks/results/
	$(BIN)/python -m tests.benchmarks.bench_all --tier $(if $(QUICK),quick,full) $(BENCH_ARGS)

bench-quick: $(STAMP)  ## the regression guards, under 2 minutes (CI runs it)
	$(BIN)/python -m tests.benchmarks.bench_all --tier quick $(BENCH_ARGS)

bench-large: $(STAMP)  ## the 100k-advisor measures, on SQLite and PostgreSQL
	$(BIN)/python -m tests.benchmarks.bench_all --tier large $(BENCH_ARGS)

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
