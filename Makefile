# Two entry points, both safe to re-run on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install clean

install: $(VENV)/.installed

# The project (with Meltano and the test tools) in .venv, then every Meltano plugin.
$(VENV)/.installed: pyproject.toml meltano.yml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/meltano install
	touch $@

# The main job: Meltano into DuckDB (Datadog with keys in the environment, else the simulator).
run: install
	$(BIN)/python scripts/quickstart.py

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .meltano .pytest_cache output
