# Every target bootstraps its own virtual environment: a fresh machine needs only Python 3.11+.
# `make demo` installs what runs, the agent and the collector (`pip install .` alone is the
# agent: SPEC §14); `make test`, `lint` and `bench` add the test and lint tools
# (pyproject.toml's `test` extra). `make deb` needs no virtual environment: Python 3.9+ and
# dpkg-deb build dist/vigie-agent_VERSION_all.deb (deploy/debian/build.py).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
DIST ?= dist

.PHONY: demo test lint bench deb clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[collector]'
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[collector,test]'
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

deb:
	$(PYTHON) deploy/debian/build.py --out $(DIST)

clean:
	rm -rf $(VENV) .pytest_cache $(DIST)
