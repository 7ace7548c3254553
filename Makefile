# Two commands for a fresh machine:
#   make demo   -- builds .venv/demo and runs the main job
#   make test   -- builds .venv/test and runs the whole test suite
# Each virtual environment is created and filled on first use (and again
# whenever setup.cfg changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
DEMO := .venv/demo
TEST := .venv/test

.PHONY: demo test bench clean-cache

$(DEMO)/.ready: setup.cfg pyproject.toml
	rm -rf $(DEMO) && $(PYTHON) -m venv $(DEMO)
	$(DEMO)/bin/pip install --quiet --upgrade pip
	$(DEMO)/bin/pip install --quiet -e '.[analysis]'
	touch $@

$(TEST)/.ready: setup.cfg pyproject.toml
	rm -rf $(TEST) && $(PYTHON) -m venv $(TEST)
	$(TEST)/bin/pip install --quiet --upgrade pip
	$(TEST)/bin/pip install --quiet -e '.[test,peers,analysis]'
	touch $@

demo: $(DEMO)/.ready
	$(DEMO)/bin/fxsim demo

test: $(TEST)/.ready
	$(TEST)/bin/python -m pytest -q -n 2 -p no:cacheprovider

bench: $(DEMO)/.ready
	$(DEMO)/bin/pip install --quiet ml_dtypes apytypes
	$(DEMO)/bin/fxsim bench

clean-cache:
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/fxsim
