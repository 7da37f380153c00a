# Two commands: `make demo` (set up, grade the bundled samples, show the gradebook) and
# `make test` (set up, run the whole test suite). Both create .venv/ on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
DEMO_DB ?= gradebook.db
ASSIGNMENTS := $(notdir $(wildcard assignments/*))
# lenet's samples include a training loop that runs until the grader stops it at its budgets
# (60 s graded + 20 s self-check of CPU time): graded as shipped, samples/lenet/ takes over two
# minutes on two cores. The demo grades lenet in a copy of the course with budgets of 5 s and
# 4 s instead (every other sample trains in a few seconds either way); DEMO_FULL_BUDGETS=1
# grades it with the shipped budgets. The copy is not under .venv/: the sandbox sees the whole
# virtual environment (read-only), and with it would see the copy's hidden/ folder.
DEMO_COURSE := build/demo-course
DEMO_FULL_BUDGETS ?=

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
	@rm -rf $(DEMO_COURSE) && mkdir -p $(DEMO_COURSE)/assignments $(DEMO_COURSE)/reference
	@cp -R assignments/lenet $(DEMO_COURSE)/assignments/ && cp reference/lenet.py $(DEMO_COURSE)/reference/
	@sed -i.orig -e 's/^budget_seconds = .*/budget_seconds = 5/' \
	  -e 's/^self_check_budget_seconds = .*/self_check_budget_seconds = 4/' $(DEMO_COURSE)/assignments/lenet/assignment.toml \
	  && rm -f $(DEMO_COURSE)/assignments/lenet/assignment.toml.orig
	@for a in $(ASSIGNMENTS); do \
	  course=""; \
	  if [ "$$a" = lenet ] && [ -z "$(DEMO_FULL_BUDGETS)" ]; then course="--course $(DEMO_COURSE)"; fi; \
	  if [ -d samples/$$a ]; then $(VENV)/bin/grader $$course grade $$a samples/$$a --db $(DEMO_DB) || exit $$?; fi; \
	done
	@$(VENV)/bin/grader leaderboard lenet --db $(DEMO_DB)
	@echo "Export one: $(VENV)/bin/grader export perceptron --db $(DEMO_DB)"

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python bench/grading_speed.py

clean:
	rm -rf $(VENV) $(DEMO_COURSE) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
