# ML Engineering Skills Lab. Start with:  make grade lab=networking
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv
DEV    := $(VENV)/.installed-dev
# pip's and uv's chatter go to .venv/install.log, shown on failure. Modules are compiled
# as they are installed (uv: --compile-bytecode; pip does it by default): the grader runs
# suites and workers with PYTHONDONTWRITEBYTECODE=1 (no __pycache__ in a learner's folder),
# so a .pyc not written now is never written, and every grade would compile Spark's,
# FastAPI's and Feast's Python again.
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
lab    ?=
ARGS   ?=

.PHONY: help setup dev grade hint watch progress reset check test lint image bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) $(UV) ## create .venv with the grader; a lab's packages come with its first local grade

# uv (from PyPI, pinned here) installs the grader, and makes each lab's own environment
# (.venv/labs/<slug>) for its local grades: exactly the lab's packages, as its image has
# them, hard-linked from one cache. pip only installs uv itself (and `make dev`).
UV_PIN := uv==0.13.9
$(STAMP): pyproject.toml constraints.txt
	@echo "Installing the grader into $(VENV) (once; a lab's own packages are added the first time it is graded without Docker)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PIP) $(UV_PIN) > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode -c constraints.txt -e . > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

# A .venv set up before uv was part of setup.
$(UV): | $(STAMP)
	@$(PIP) $(UV_PIN) > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

dev: $(DEV) ## contributors: every lab's packages, ruff, mypy and playwright in .venv

$(DEV): $(STAMP)
	@echo "Installing every lab's packages and the contributors' tools into $(VENV)"
	@$(PIP) -c constraints.txt -e '.[labs,cohort,dev]' > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(DEV)

# These targets are for people. A failing task (the grader's exit 1) is where a learner
# usually is, and a lab that could not be graded (exit 2) has the grader's own sentence
# saying why: either way the target ends there, without make's "*** [grade] Error" line
# under it. Scripts and CI call ./mlskills, which returns the grader's own exit code:
# 0 all pass, 1 some fail, 2 could not grade.
QUIET_FAIL := || { code=$$?; [ $$code -le 2 ] || exit $$code; }

grade: setup ## grade your copy of a lab:  make grade lab=networking [task=3]
	@MLSKILLS_LAB_ENVS=1 $(BIN)/python -m grader grade $(lab) $(if $(task),--task $(task)) $(ARGS) $(QUIET_FAIL)

hint: setup ## a hint; ask again for a bigger one:  make hint lab=networking task=1
	@$(BIN)/python -m grader hint $(lab) $(task) $(QUIET_FAIL)

watch: setup ## re-grade each time you save:  make watch lab=networking
	@MLSKILLS_LAB_ENVS=1 $(BIN)/python -m grader watch $(lab) $(ARGS) $(QUIET_FAIL)

progress: setup ## every lab and task: done, not yet, not started
	@$(BIN)/python -m grader progress $(QUIET_FAIL)

reset: setup ## put a file back to the starter, keeping a backup:  make reset lab=networking file=netlab/bench.py
	@$(BIN)/python -m grader reset $(lab) $(file) $(QUIET_FAIL)

check: dev ## every task fails on its starter and passes on its solution
	$(BIN)/python -m grader check $(ARGS)

# A starter imports what a task will need with "# noqa: F401"; once the learner uses the
# names, the noqa is unused (RUF100). That is a solved task, not a lint error.
RUFF_CHECK := $(BIN)/ruff check --extend-per-file-ignores 'labs/**/*.py:RUF100'

lint: dev ## ruff and mypy (strict on grader/)
	$(RUFF_CHECK) .
	$(BIN)/ruff format --check grader tests
	$(BIN)/mypy

test: lint ## the project's own tests (Docker tests skip without an engine unless REQUIRE_DOCKER=1)
	$(BIN)/python -m pytest $(ARGS)

image: setup ## build a lab's image now (it is cached by a hash of its inputs)
	$(BIN)/python -m grader image $(lab)

bench: dev ## benchmarks: make bench, or make bench lab=networking
	$(BIN)/python bench/run.py $(if $(filter command line,$(origin lab)),$(lab))

clean: ## remove caches, build files and grader state (keeps .venv and images)
	rm -rf .cache .mlskills bench/out bench/results.json build *.egg-info
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
