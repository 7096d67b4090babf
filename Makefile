# Two commands do everything: `make serve` runs jobtrail on SQLite, `make test` runs the tests.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime

.PHONY: serve test check lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make serve` installs what the service needs, nothing for the tests; PORT=8080 to move it.
$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# A newcomer's first deletion runs at once, not at the next UTC midnight (OpenReplay's
# default, which `jobtrail serve` keeps): JOBTRAIL_DELETION_DELAY=midnight make serve.
JOBTRAIL_DELETION_DELAY ?= 0
serve: $(RUNTIME)
	JOBTRAIL_DELETION_DELAY=$(JOBTRAIL_DELETION_DELAY) $(BIN)/jobtrail serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Three test processes on two cores: the process tests spend much of their time
# waiting on the servers and workers they start.
test: lint
	$(BIN)/pytest -n 3 --dist worksteal

# The fast loop: lint, types, the unit tests, and the application tests on the in-memory
# adapters only (tests/in_memory.py; `make test` runs them on both databases too). No
# test here uses schemathesis: not loading its plugin saves a second and a half.
check: lint
	$(BIN)/pytest -q -m "not process" -p no:schemathesis --backends memory tests/unit tests/application

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
