PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

SIZE   ?= 1M

.PHONY: demo test test-engines lint bench screenshots clean

$(BIN)/supportkpi: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,spark]'
	@touch $@

demo: $(BIN)/supportkpi
	$(BIN)/supportkpi demo

test: $(BIN)/supportkpi
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs
	$(BIN)/pytest

# every KPI on Spark against DuckDB (about two minutes), beside the suite's shorter checks
test-engines: $(BIN)/supportkpi
	$(BIN)/pytest -m "spark or engines"

lint: $(BIN)/supportkpi
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs

bench: $(BIN)/supportkpi
	$(BIN)/python bench/run.py --size $(SIZE)

screenshots: $(BIN)/supportkpi
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) supportkpi.duckdb supportkpi.duckdb.wal demo-data
