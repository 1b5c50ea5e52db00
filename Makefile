# ppflow: one virtual environment in .venv, built from pyproject.toml and constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint lock clean

demo: $(STAMP)  ## seed the demonstration program on the embedded SQLite default and print it
	$(BIN)/ppflow demo

test: $(STAMP)  ## the whole test suite (PostgreSQL tests need PPFLOW_TEST_DATABASE_URL)
	$(BIN)/ruff check ppflow flows tests
	$(BIN)/pytest

$(STAMP): pyproject.toml constraints.txt
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
