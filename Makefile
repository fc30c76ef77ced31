# Each target sets up .venv from requirements.txt the first time it is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NB ?= 1-Backpropagation.ipynb

.PHONY: demo test lab release bench

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

demo: $(BIN)/.installed  ## the instructor pipeline on a sample class
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools demo

test: $(BIN)/.installed  ## every test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests

lab: $(BIN)/.installed  ## JupyterLab on the learner notebooks
	$(BIN)/jupyter lab 1-Backpropagation.ipynb 2-FittingDistribution.ipynb

release: $(BIN)/.installed  ## regenerate release/ and the learner notebooks from source/
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools release

bench: $(BIN)/.installed  ## the performance benchmarks
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/run.py
