# Two commands for a fresh machine:
#   make demo   -- builds .venv/demo and runs the main job
#   make test   -- builds .venv/test and runs the whole test suite
# Each virtual environment is created on first use (and again whenever
# setup.cfg or its lock file changes) with exactly the versions pinned in
# lock/<env>.txt, so the verdict does not depend on the day it runs.
#
# Other targets:
#   make analyze  -- .venv/analysis, then `fxsim analyze --quick`
#   make bench    -- fxsim bench beside its peers (in the test venv: it has them)
#   make lock     -- re-resolve every environment from setup.cfg's ranges on
#                    purpose and rewrite lock/*.txt (review the diff, then commit)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PIP_QUIET := --quiet --disable-pip-version-check

# extras of each environment
EXTRAS_demo :=
EXTRAS_analysis := [analysis]
EXTRAS_test := [test,peers,analysis,train]

.PHONY: demo test analyze bench lock clean-cache

# $(VENV)/<env>/.ready: a venv holding exactly lock/<env>.txt, fxsim editable.
# The build backend is the pinned setuptools inside the venv (no build
# isolation), so not even the build step resolves anything on its own.
$(VENV)/%/.ready: setup.cfg pyproject.toml lock/%.txt
	rm -rf $(VENV)/$* && $(PYTHON) -m venv $(VENV)/$*
	$(VENV)/$*/bin/pip install $(PIP_QUIET) -c lock/$*.txt pip setuptools wheel
	$(VENV)/$*/bin/pip install $(PIP_QUIET) --no-build-isolation -c lock/$*.txt -e '.$(EXTRAS_$*)'
	touch $@

demo: $(VENV)/demo/.ready
	$(VENV)/demo/bin/fxsim warmup
	$(VENV)/demo/bin/fxsim demo

test: $(VENV)/test/.ready
	$(VENV)/test/bin/fxsim warmup
	$(VENV)/test/bin/python -m pytest -q -n 2 -p no:cacheprovider

analyze: $(VENV)/analysis/.ready
	$(VENV)/analysis/bin/fxsim warmup
	$(VENV)/analysis/bin/fxsim analyze --quick

bench: $(VENV)/test/.ready
	$(VENV)/test/bin/fxsim bench

# Resolve each environment afresh from setup.cfg's ranges in a throw-away venv
# and write what pip chose (pip, setuptools and wheel included).
lock:
	@for env in demo analysis test; do \
	  extras=$$(case $$env in demo) echo '';; analysis) echo '[analysis]';; test) echo '[test,peers,analysis,train]';; esac); \
	  tmp=$$(mktemp -d) && $(PYTHON) -m venv $$tmp/venv && \
	  $$tmp/venv/bin/pip install $(PIP_QUIET) --upgrade pip setuptools wheel && \
	  $$tmp/venv/bin/pip install $(PIP_QUIET) -e ".$$extras" && \
	  { echo "# lock/$$env.txt: exact versions for .venv/$$env (pip install -c), written by 'make lock'"; \
	    echo "# on $$(date -u +%Y-%m-%d) with $$($$tmp/venv/bin/python --version), from setup.cfg extras '$$extras'."; \
	    $$tmp/venv/bin/pip freeze --all --exclude-editable | grep -v '^#' | LC_ALL=C sort -f; } > lock/$$env.txt && \
	  rm -rf $$tmp && echo "wrote lock/$$env.txt"; \
	done

clean-cache:
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/fxsim
