"""Grading a class: sandboxed, parallel on a Dask cluster (this machine's by default), resumable.

One job per module:

* `kernel`: the sandboxed kernel (a kernel spec around `coursetools/sandbox.py`);
* `autograde`: nbgrader's Autograde with the grader's steps (below) for Execute, results in resources;
* `execute`: the bounded execute step, `GuardedExecute`;
* `inert`: what a notebook shows made text and images only (`MakeInert`);
* `answers`: the grader's own call of each function, planned from the instructor's source
  (`AddGraderCells`, `TakeGraderCells`);
* `assignment`: what a worker needs of an assignment, as data (no course folder on workers);
* `submission`: grading one submission, files in, result out;
* `files`: folders as data, walked without recursion;
* `executors`: Dask, the client's side (a LocalCluster here, or a scheduler's address);
* `worker`: Dask, the worker's side (the task, the worker plugin);
* `writer`: the single writer of the gradebook (any database nbgrader accepts);
* `run`: a run, from the course to the report; `cli`: the command line.

The typed outcome of one submission (`coursetools.outcome`), the journal of outcomes that
makes a run resumable (`coursetools.journal`) and the gradebook's opening (`coursetools.gradebook`)
are the package's, shared with the report.

Import what you need from those modules; importing this package imports none of them.
"""
