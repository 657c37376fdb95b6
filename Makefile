# The README's quick start is `make serve` and `make test`; both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# make serve DATABASE=postgresql://... ; unset, metadb uses METADB_DATABASE_URL or
# sqlite:///metadb.sqlite in this directory.
DATABASE ?=
DATABASE_FLAG := $(if $(DATABASE),--database '$(DATABASE)')

.PHONY: serve test lint typecheck unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-install only when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# metadb serve migrates on start, then serves http://127.0.0.1:8080 (SERVE_ARGS="--port 9000").
serve: $(VENV)/.installed
	$(BIN)/metadb serve $(DATABASE_FLAG) $(SERVE_ARGS)

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

test: unit typecheck lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
