"""The class report (`make report`) on synthetic classes of 10,000 and 100,000 submissions.

Run with `make bench-report` or `python benchmarks/report.py [--submissions N] [--stock N] [--json PATH]`.

A class is made without grading anything: stock `nbgrader generate_assignment backprop` makes the
gradebook's structure, then N submissions are inserted in bulk (a student, a submitted assignment
and notebook, one grade per graded cell) with scores drawn from a fixed seed, and the grader's
journal gets one line per submission (the mistake of each function that lost points, a problem
for 2 of 100, a grading time).  Then `python -m coursetools report` runs in a process of its own;
its wall time and peak resident memory (VmHWM, the process's own) are measured.  The reference is stock `nbgrader export`
(grades.csv) on the class of --stock submissions, in the same run.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from coursetools.course import nbgrader  # noqa: E402
from coursetools import journal  # noqa: E402
from coursetools.outcome import Mistake, Outcome, Problem  # noqa: E402

ASSIGNMENT = "backprop"
#: Mistakes drawn for a wrong function, with their weights (a few common ones, a long tail).
MISTAKES = [("sigma-for-d_sigma", 30), ("shapes-do-not-fit", 20), ("sign", 10), ("no-division-by-N", 8),
            ("keepdims-dropped", 6), ("not-implemented", 6), ("unrecognised", 12), ("not-an-array", 3),
            ("skips-d_sigma", 3), ("endless-loop", 2)]
CHUNK = 20_000


def course(folder):
    """A course folder with the source notebooks and an empty gradebook holding the assignment's structure."""
    folder.mkdir(parents=True)
    for name in ("nbgrader_config.py", "source", "readonly"):
        subprocess.run(["cp", "-a", str(REPO / name), str(folder / name)], check=True)
    nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force")
    return folder


def fill(folder, submissions, seed=0):
    """Insert submissions synthetic submissions into folder's gradebook and journal; return seconds taken."""
    from nbgrader.api import Assignment, Gradebook, Grade, GradeCell, Student, SubmittedAssignment, SubmittedNotebook

    started, draw = time.perf_counter(), random.Random(seed)
    names, weights = zip(*MISTAKES)
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
        assignment = gradebook.db.query(Assignment).filter_by(name=ASSIGNMENT).one()
        notebook = assignment.notebooks[0]
        cells = [(c.id, c.name, c.max_score) for c in gradebook.db.query(GradeCell).filter_by(notebook_id=notebook.id)]
        engine = gradebook.engine
    lines = []
    with engine.begin() as connection:
        for start in range(0, submissions, CHUNK):
            students, assigned, notebooks, grades = [], [], [], []
            for number in range(start, min(start + CHUNK, submissions)):
                student, sub, nb = f"student-{number:06d}", uuid.uuid4().hex, uuid.uuid4().hex
                students.append({"id": student})
                assigned.append({"id": sub, "assignment_id": assignment.id, "student_id": student})
                notebooks.append({"id": nb, "assignment_id": sub, "notebook_id": notebook.id})
                wrong = {f"J_{p}": draw.choices(names, weights)[0] for p in ("b3", "b2", "W1", "b1")
                         if draw.random() < 0.35}
                for cell, name, maximum in cells:
                    function = name.removeprefix("test_").removesuffix("_hidden")
                    score = 0.0 if function in wrong and (name.endswith("_hidden") or draw.random() < 0.8) else maximum
                    grades.append({"id": uuid.uuid4().hex, "notebook_id": nb, "cell_id": cell, "auto_score": score,
                                   "needs_manual_grade": False})
                problem = draw.random() < 0.02
                lines.append(Outcome(
                    ASSIGNMENT, student, uuid.uuid4().hex, score=0, max_score=12,
                    problems=[Problem("kernel-died", "the kernel died in test_J_b1")] if problem else [],
                    seconds=round(draw.lognormvariate(1.2, 0.3), 2),
                    mistakes={f: Mistake(f"{f}/{m}", f"{f} is not right yet.\n  likely cause: {m}")
                              for f, m in wrong.items()}).to_json() + "\n")
            connection.execute(Student.__table__.insert(), students)
            connection.execute(SubmittedAssignment.__table__.insert(), assigned)
            connection.execute(SubmittedNotebook.__table__.insert(), notebooks)
            connection.execute(Grade.__table__.insert(), grades)
    path = journal.path_of(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return time.perf_counter() - started


#: Runs a module as `python -m` would, and at exit prints the process's own peak resident memory (VmHWM,
#: which starts afresh at exec; the parent's pages that a fork shares do not count, as in ru_maxrss they would).
PEAK = ("import atexit, runpy, sys\n"
        "def peak():\n"
        "    status = open('/proc/self/status').read()\n"
        "    print('peak-kib:', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
        "atexit.register(peak)\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")


def measured(module, arguments, cwd):
    """(wall seconds, peak resident MiB) of `python -m module arguments` run to its end in cwd."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, module, *arguments], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    kib = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-kib:")]
    return seconds, int(kib[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--stock", type=int, default=10_000, help="class size of the stock nbgrader export reference")
    parser.add_argument("--json", help="also write the numbers to this file")
    arguments = parser.parse_args()
    report = ["report", "--assignment", ASSIGNMENT, "--root"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        for size in sorted({arguments.stock, arguments.submissions}):
            folder = course(Path(scratch) / f"class-{size}")
            filled = fill(folder, size)
            ours = measured("coursetools", report + [str(folder)], REPO)
            row = {"submissions": size, "fill_seconds": round(filled, 1), "report_seconds": round(ours[0], 2),
                   "report_peak_mib": round(ours[1], 1)}
            if size == arguments.stock:
                stock = measured("nbgrader", ["export", "--to", "grades.csv"], folder)
                row.update(stock_export_seconds=round(stock[0], 2), stock_export_peak_mib=round(stock[1], 1),
                           report_over_stock_export=round(ours[0] / stock[0], 3))
            results[size] = row
            print(json.dumps(row), flush=True)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
