# Entry points, all safe to re-run on a fresh clone: `make run`, `make test` and `make e2e`.
# The Python .venv is made with (scripts/choose_python.sh): PYTHON if given, else the newest
# Python 3.10 or later on PATH (python3.13, python3.12, python3.11, python3.10, then python3). It
# is asked once a make, when .venv is checked, and says which in one line; none: one line too.
PYTHON ?=
NO_PYTHON = $(if $(PYTHON),PYTHON=$(PYTHON) is not a Python 3.10 or later: name one that is$(,) \
  such as PYTHON=python3.12,no Python 3.10 or later on PATH (looked for python3.13$(,) python3.12$(,) \
  python3.11$(,) python3.10 and python3): install one$(,) or name it with PYTHON=/path/to/python3)
, := ,
CHOSEN = $(eval CHOSEN := $$(shell scripts/choose_python.sh "$$(PYTHON)"))$(or $(CHOSEN),$(error $(NO_PYTHON)))
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := test,lint,e2e
# requirements.lock pins what CI installs, on CI's Python (3.11); on another Python (3.10, 3.12,
# 3.13) pip resolves pyproject.toml's ranges for it instead, and says so.
LOCK_PYTHON := 3.11
PYVER = $(shell $(CHOSEN) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CONSTRAINTS = $(if $(filter $(LOCK_PYTHON),$(PYVER)),-c requirements.lock,)
# setuptools' note on every editable install ("Editable installation. Please be careful with
# folders in your working directory..."), which pip 25+ shows even with --quiet: nothing to act
# on here (the package is tap_datadog_costs/, the folder). Only that note is silenced.
EDITABLE_QUIET := PYTHONWARNINGS="ignore:Editable installation"

# The FinOps Foundation's focus-validator (tests/test_focus_validator.py, scripts/check_focus.py)
# needs Python 3.12 (on 3.11 pip quietly installs its 1.0.0): it gets a virtualenv of its own,
# from python3.12 on PATH, else the newest pyenv 3.12, unless FOCUS_PYTHON names one.
FOCUS_VENV := .venv-focus
FOCUS_PYTHON ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12.*/bin/python 2>/dev/null | sort -V -r); do \
  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: run test e2e lint install focus-validator lock clean FORCE

install: $(VENV)/.installed

# Which interpreter made .venv (its path and version): a .venv another one made is made again,
# not reused half-broken.
$(VENV)/.python: FORCE
	@made_by="$$($(CHOSEN) -c 'import sys; print(sys.executable, sys.version.split()[0])')"; \
	  [ "$$(cat $@ 2>/dev/null)" = "$$made_by" ] || { \
	    [ ! -d $(VENV) ] || echo "$(VENV) was made by another Python than $(CHOSEN): making it again"; \
	    rm -rf $(VENV) && mkdir -p $(VENV) && echo "$$made_by" > $@; }

# The project with its test, lint and end-to-end tools in .venv, at the versions of
# requirements.lock (on its Python), then every Meltano plugin.
$(VENV)/.installed: pyproject.toml requirements.lock meltano.yml $(VENV)/.python
	$(CHOSEN) -m venv $(VENV)
	@$(if $(CONSTRAINTS),,echo "Python $(PYVER) is not requirements.lock's ($(LOCK_PYTHON)): pip resolves pyproject.toml's ranges for it")
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(EDITABLE_QUIET) $(BIN)/python -m pip install --quiet $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(BIN)/meltano install
	# meltano install keeps an installed plugin whose pip_url is unchanged: reinstall ours, so
	# a changed pyproject.toml (entry point, dependencies) reaches Meltano's copy too.
	$(BIN)/meltano install --clean --plugin-type extractor tap-datadog-costs
	touch $@

focus-validator: $(FOCUS_VENV)/.installed

# focus-validator 2.2.1 at the versions of requirements-focus.lock. It pins numpy<2, for which
# pyarrow 22 has no wheel: hence pyarrow<22.
$(FOCUS_VENV)/.installed: requirements-focus.lock
	@"$(FOCUS_PYTHON)" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 || { \
	  echo "focus-validator needs Python 3.12: install python3.12 (apt, or pyenv install 3.12) or pass FOCUS_PYTHON=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(FOCUS_VENV)
	"$(FOCUS_PYTHON)" -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/python -m pip install --quiet -c requirements-focus.lock "focus-validator==2.2.1" "pyarrow<22"
	touch $@

# The main job: Meltano into DuckDB (Datadog with keys in the environment, else the simulator).
run: install
	$(BIN)/python scripts/quickstart.py

# The suite without the end-to-end lane: the tap in-process and as a CLI against the simulator.
test: install
	$(BIN)/python -m pytest -m "not e2e"

# The end-to-end lane (tests marked e2e): Meltano into DuckDB, JSONL and PostgreSQL, dbt, the
# Quickstart (also `make run` in a fresh copy with only Python 3.10, 3.12 or 3.13 on PATH), the
# report in Chromium, the accounts and Dagster, the wheel in a clean venv, make lock, the docs'
# commands, and FOCUS rows through focus-validator (its own venv). `.ci/run` runs both lanes.
e2e: install focus-validator
	$(BIN)/python -m pytest -m e2e

# Lint and format checks over the whole repository; strict typing of the tap.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tap_datadog_costs

# Re-resolve pyproject.toml's ranges in a scratch venv and write the versions CI installs.
lock:
	rm -rf .lock-venv
	$(or $(PYTHON),python$(LOCK_PYTHON)) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	$(EDITABLE_QUIET) .lock-venv/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	( echo "# pip constraints for CI, on Python $(LOCK_PYTHON): make lock rewrites this from pyproject.toml's ranges."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable ) > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(FOCUS_VENV) .meltano .pytest_cache
	git clean -fdXq output  # what runs wrote; the output/<environment>/ folders stay
