# Each target sets up .venv from requirements.txt the first time it is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NB ?= 1-Backpropagation.ipynb

.PHONY: demo test e2e chromium bubblewrap postgres check lab instructor-lab release corpus-table bench fuzz audit

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

demo: $(BIN)/.installed bubblewrap  ## the instructor pipeline on a sample class
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools demo

test: $(BIN)/.installed chromium bubblewrap postgres  ## every test, the browser tests included
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests

e2e: $(BIN)/.installed chromium  ## the browser tests alone: JupyterLab and Notebook 7 in Chromium
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests/e2e

# Debian packages the tests and the grader need, installed with apt-get when running as root and
# missing; otherwise a warning says what will fail. $(call debian,PACKAGE,SHELL TEST THAT IT IS THERE,WHAT NEEDS IT)
define debian
@if ! $(2) >/dev/null 2>&1; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "Installing Debian's $(1) for $(3)"; \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null) \
      || echo "warning: could not install $(1); $(3) will fail" >&2; \
  else \
    echo "warning: Debian's package $(1) is missing and only root can install it (apt-get install $(1));" \
      "$(3) will fail" >&2; \
  fi; \
fi
endef

chromium:  # the browser tests drive Debian's Chromium (Playwright's own download is never used)
	$(call debian,chromium,[ -x /usr/bin/chromium ],the browser tests)
bubblewrap:  # bwrap, the grader's sandbox
	$(call debian,bubblewrap,command -v bwrap,the grader's sandbox)
postgres:  # a throw-away PostgreSQL server for the gradebook tests (tests/services.py)
	$(call debian,postgresql,ls /usr/lib/postgresql/*/bin/initdb,the PostgreSQL tests)

check: $(BIN)/.installed  ## learners: run the visible tests of NB=<notebook>, summarised per function
	$(BIN)/python -m coursetools check $(NB)

# Learners' JupyterLab reads jupyter-learner/ first: nbgrader's instructor tools are switched off there.
lab: $(BIN)/.installed  ## learners: JupyterLab on the learner notebooks, without nbgrader's instructor tools
	JUPYTER_CONFIG_PATH="$(abspath jupyter-learner)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(BIN)/jupyter lab 1-Backpropagation.ipynb 2-FittingDistribution.ipynb

instructor-lab: $(BIN)/.installed  ## instructors: JupyterLab with nbgrader's Formgrader and Create Assignment
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab

release: $(BIN)/.installed  ## regenerate release/ and the learner notebooks from source/
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools release

corpus-table: $(BIN)/.installed  ## rewrite docs/corpus.md from tests/corpus.py
	$(BIN)/python tests/corpus_table.py > docs/corpus.md

FUZZ_EXAMPLES ?= 5000
FUZZ_CLASSES ?= 80
fuzz: $(BIN)/.installed bubblewrap  ## long property-based fuzzing of the grader, at least 30 min on 2 cores (FUZZ_EXAMPLES per quick property, FUZZ_CLASSES classes graded; make test runs a few)
	PATH="$(abspath $(BIN)):$$PATH" FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_CLASSES=$(FUZZ_CLASSES) \
		$(BIN)/python -m pytest -p no:warnings --hypothesis-show-statistics tests/test_fuzz.py

bench: $(BIN)/.installed  ## the performance benchmarks
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/run.py

ASSIGNMENT ?=
JOBS ?=
SCHEDULER ?=
DB ?=
grade: $(BIN)/.installed bubblewrap  ## grade every collected submission, sandboxed, parallel, resumable (ASSIGNMENT=name, JOBS=n, SCHEDULER=tls://host:port, DB=url)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools grade \
		$(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(JOBS),--jobs $(JOBS)) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(DB),--db $(DB)) $(GRADE_FLAGS)

AGREE ?=
audit: $(BIN)/.installed  ## are the grades fair? mutants of every graded function, judged by the truth and by the tests: reports/audit/<assignment>/ (ASSIGNMENT=name, JOBS=n, AGREE=n mutants also graded by make grade)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m coursetools audit \
		$(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(AGREE),--agree $(AGREE))

report: $(BIN)/.installed  ## what the class got wrong: reports/<assignment>/index.html and CSVs from the gradebook (ASSIGNMENT=name, DB=url)
	$(BIN)/python -m coursetools report $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(DB),--db $(DB))

bench-report: $(BIN)/.installed  ## make report on a synthetic class of 100,000 submissions (SUBMISSIONS=n)
	$(BIN)/python benchmarks/report.py $(if $(SUBMISSIONS),--submissions $(SUBMISSIONS))

bench-grade: $(BIN)/.installed bubblewrap  ## stock nbgrader autograde vs make grade on a synthetic class (SUBMISSIONS=n per assignment, CLASS=right, JOBS=n workers)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/grade.py

profile-grade: $(BIN)/.installed bubblewrap  ## where one submission's CPU goes: the grader's process (cProfile, TOP=n) and its kernels (WARM=0: cold kernels, CASE=<sample case>: copies of it, not right answers)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/profile_submission.py

bench-memory: $(BIN)/.installed  ## a worker's peak memory on a notebook of 1,000,000 metadata objects, against nbformat reading it
	$(BIN)/python benchmarks/memory.py

bench-cluster: $(BIN)/.installed bubblewrap postgres  ## grade --jobs 2 vs a 2-worker Dask cluster into PostgreSQL, the writer's capacity (SUBMISSIONS, WRITES, BENCH_JSON=path)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python benchmarks/cluster.py $(if $(BENCH_JSON),--json $(BENCH_JSON))
.PHONY: grade report bench-grade profile-grade bench-cluster bench-report bench-memory
