# Two commands on a fresh clone: `make demo` and `make test`. Everything installs into .venv from PyPI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BASE   := $(VENV)/.installed-base
TESTS  := $(VENV)/.installed-test

.PHONY: demo test bench lint clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TESTS): $(BASE)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BASE)

## make demo: generate a demo camera roll in .demo/ and run scan, faces, selection and an export on it
demo: $(BASE)
	$(BIN)/homeroll demo --dir .demo

## make test: the whole suite (the corpus in ../shared/corpus is used when present; with CI=true it must be)
test: $(TESTS)
	scripts/need-system-tools
	$(BIN)/pytest

## make bench: every bench script; figures go to docs/benchmarks.md by hand
bench: $(TESTS)
	@scripts/need-system-tools
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python -P $$script || exit 1; done

lint: $(TESTS)
	$(BIN)/ruff check .

clean:
	rm -rf .demo .pytest_cache
