# Each target sets up .venv from requirements.txt the first time it is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NB ?= 1-Backpropagation.ipynb

.PHONY: demo test e2e chromium check lab release corpus-table bench

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

demo: $(BIN)/.installed  ## the instructor pipeline on a sample class
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools demo

test: $(BIN)/.installed chromium  ## every test, the browser tests included
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests

e2e: $(BIN)/.installed chromium  ## the browser tests alone: JupyterLab and Notebook 7 in Chromium
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests/e2e

# Debian's Chromium, which the browser tests drive (Playwright's own download is never used).
# Installed with apt-get when running as root and it is missing; otherwise the tests say what is missing.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser tests will fail" >&2; \
	  else \
	    echo "warning: $(CHROMIUM) is missing and only root can install it (apt-get install chromium);" \
	      "the browser tests will fail" >&2; \
	  fi; \
	fi

check: $(BIN)/.installed  ## learners: run the visible tests of NB=<notebook>, summarised per function
	$(BIN)/python -m coursetools check $(NB)

lab: $(BIN)/.installed  ## JupyterLab on the learner notebooks
	$(BIN)/jupyter lab 1-Backpropagation.ipynb 2-FittingDistribution.ipynb

release: $(BIN)/.installed  ## regenerate release/ and the learner notebooks from source/
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools release

corpus-table: $(BIN)/.installed  ## rewrite docs/corpus.md from tests/corpus.py
	$(BIN)/python tests/corpus_table.py > docs/corpus.md

bench: $(BIN)/.installed  ## the performance benchmarks
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/run.py

ASSIGNMENT ?=
JOBS ?=
grade: $(BIN)/.installed  ## grade every collected submission, sandboxed and parallel (ASSIGNMENT=name, JOBS=n)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools grade \
		$(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(JOBS),--jobs $(JOBS)) $(GRADE_FLAGS)

bench-grade: $(BIN)/.installed  ## stock nbgrader autograde vs make grade on a synthetic class
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/grade.py
.PHONY: grade bench-grade
