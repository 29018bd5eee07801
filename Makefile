# Every target bootstraps its own virtual environment: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python deploy/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check agent collector tests bench
	$(BIN)/mypy --strict collector/domain

bench: $(STAMP)
	$(BIN)/python bench/agent_overhead.py
	$(BIN)/python bench/sla.py

clean:
	rm -rf $(VENV) .pytest_cache
