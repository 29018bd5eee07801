# Every target bootstraps its own virtual environment: a fresh machine needs only Python 3.11+.
# `make demo` installs what runs (the project and its dependencies); `make test`, `lint` and
# `bench` add the test and lint tools (pyproject.toml's `test` extra).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(RUN_STAMP) $(TEST_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/python deploy/demo.py

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check agent collector tests bench
	$(BIN)/mypy --strict collector/domain

bench: $(TEST_STAMP)
	$(BIN)/python bench/agent_overhead.py
	$(BIN)/python bench/sla.py

clean:
	rm -rf $(VENV) .pytest_cache
