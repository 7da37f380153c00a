# Two commands: `make demo` (set up, grade the bundled samples, show the gradebook) and
# `make test` (set up, run the whole test suite). Both create .venv/ on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
DEMO_DB ?= gradebook.db
ASSIGNMENTS := $(notdir $(wildcard assignments/*))

.PHONY: setup demo test bench clean

setup: $(STAMP)

# Reinstall when the package metadata or the pins change. The constraints file pins
# torch==2.13.0 (a CPU wheel); anything else would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@for a in $(ASSIGNMENTS); do \
	  if [ -d samples/$$a ]; then $(VENV)/bin/grader grade $$a samples/$$a --db $(DEMO_DB) || exit $$?; fi; \
	done
	@echo "Export one: $(VENV)/bin/grader export perceptron --db $(DEMO_DB)"

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python bench/grading_speed.py

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
