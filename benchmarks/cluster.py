"""Grading on a Dask cluster into PostgreSQL vs on this machine into SQLite vs stock nbgrader, in one run.

Run with `make bench-cluster` (SUBMISSIONS=n per assignment, default 40; WRITES=n replayed results per
database, default 2000; BENCH_JSON=path to also write the numbers as JSON), or
`python benchmarks/cluster.py [--submissions N] [--writes N] [--json PATH]`.

1. Grading cost: one synthetic class (benchmarks/grade.py's) graded three ways on identical copies:
   stock `nbgrader autograde` (sequential, 1 core), `python -m coursetools grade --jobs 2` (SQLite), and
   `--scheduler` on a 2-worker `dask worker` cluster into PostgreSQL (tests/services.py); every cell's
   score must agree.  Cost = wall seconds x cores / submissions (seconds per submission per core).
2. The single writer's capacity: real results (graded once, unsandboxed) replayed under distinct
   student ids through Writer.write + journal.append into a fresh SQLite file and a fresh PostgreSQL
   database, results per second.  PostgreSQL is made durable (fsync, synchronous_commit on), like
   SQLite and the journal, which sync every commit.
3. Hours for a class of 100,000 submissions on N worker cores: the workers' time or the writer's,
   whichever binds (assumes they overlap perfectly and nothing else limits).
"""
import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from conftest import copy_course  # noqa: E402
from grade import synthetic_class, timed  # noqa: E402
from services import DaskCluster, PostgresServer  # noqa: E402

from coursetools.course import assignments, nbgrader, release  # noqa: E402
from coursetools import journal  # noqa: E402
from coursetools.grading.assignment import bundle  # noqa: E402
from coursetools.course import settings as course_settings  # noqa: E402
from coursetools.grading.intake import find_submissions  # noqa: E402
from coursetools.grading.run import _tasks  # noqa: E402
from coursetools.grading.submission import grade_submission  # noqa: E402
from coursetools.gradebook import open_gradebook  # noqa: E402
from coursetools.grading.writer import Writer  # noqa: E402

WORKERS = 2  # worker processes (1 thread each) of the local and the Dask run
CLASS_SIZE = 100_000
CORE_COUNTS = (2, 16, 64, 256, 1024)
SAMPLES = 2  # submissions per assignment graded for real to make the writer's results
GRADE = [sys.executable, "-m", "coursetools", "grade", "--root"]


def durable(server):
    """Turn the test server's fsync/synchronous_commit/full_page_writes back on (a production setting)."""
    with server.connect() as connection:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            connection.execute(f"ALTER SYSTEM SET {setting} = on")
        connection.execute("SELECT pg_reload_conf()")


def generated(course, url):
    """Run stock `nbgrader generate_assignment --db url` for every assignment of course; return url."""
    for assignment in assignments(course):
        nbgrader(course, "generate_assignment", assignment.name, "--force", "--db", url)
    return url


def scores(url, course_id):
    """{(assignment, student, notebook, grade cell): auto_score} of the gradebook at url."""
    from nbgrader.api import Gradebook

    with Gradebook(url, course_id) as gradebook:
        return {(a.name, s.student_id, n.name, g.name): g.auto_score for a in gradebook.assignments
                for s in gradebook.assignment_submissions(a.name) for n in s.notebooks for g in n.grades}


def task_seconds(course, url=None):
    """Mean worker seconds per submission from the journal of the gradebook at url (the task's wall time on its
    worker)."""
    outcomes = list(journal.read(course, url).values())
    return sum(o.seconds for o in outcomes) / max(1, len(outcomes))


def measure(name, cores, total, seconds, course=None, url=None):
    """One row of part 1: wall s, submissions/min, s per submission per core (wall x cores / total)."""
    return {"grader": name, "cores": cores, "wall_s": seconds, "per_minute": total / seconds * 60,
            "cost_s": seconds * cores / total, "task_s": task_seconds(course, url) if course else None}


def grade_three_ways(folder, server, per_assignment):
    """Part 1: (rows, same scores?) for stock, local and cluster grading of one synthetic class."""
    (folder / "base").mkdir()
    base = copy_course(folder / "base")
    release(base)
    counts = synthetic_class(base, per_assignment)
    total = sum(counts.values())
    copies = {k: shutil.copytree(base, folder / k, symlinks=True) for k in ("stock", "local", "cluster")}
    course_id, _ = course_settings(base)
    print(f"synthetic class: {counts} = {total} submissions, {os.cpu_count()} cores here")

    stock = 0.0
    for name, count in counts.items():
        if count:
            stock += timed([sys.executable, "-m", "nbgrader", "autograde", name, "--force"], copies["stock"])[0]
    local = timed([*GRADE, str(copies["local"]), "--jobs", str(WORKERS)], REPO)[0]
    url = generated(copies["cluster"], server.create_database("cluster"))
    with DaskCluster(n_workers=WORKERS) as cluster:
        remote = timed([*GRADE, str(copies["cluster"]), "--scheduler", cluster.address, "--db", url], REPO)[0]

    rows = [measure("stock nbgrader autograde", 1, total, stock),
            measure(f"grade --jobs {WORKERS} (SQLite)", WORKERS, total, local, copies["local"]),
            measure(f"grade --scheduler, {WORKERS} dask workers (PostgreSQL)", WORKERS, total, remote,
                    copies["cluster"], url)]
    found = [scores(f"sqlite:///{copies[k] / 'gradebook.db'}", course_id) for k in ("stock", "local")]
    found.append(scores(url, course_id))
    same = found[0] == found[1] == found[2] and len(found[0]) > 0
    return rows, same, len(found[0]), base


def real_results(course):
    """Results of SAMPLES submissions per assignment, graded for real, unsandboxed, in this process."""
    course_id, url = course_settings(course)
    gradebook = open_gradebook(url, course_id)
    results = []
    try:
        for assignment in assignments(course):
            found, _ = find_submissions(course, [assignment.name], None)
            if not found:
                continue
            data = bundle(course, assignment.name, gradebook, course_id)
            for _, task in _tasks(found[:SAMPLES], {assignment.name: data}):
                graded = grade_submission(data, task, {"sandbox": None})
                if any(p.kind == "grader-error" for p in graded.outcome.problems):
                    raise RuntimeError(graded.outcome.texts())
                results.append(graded)
    finally:
        gradebook.close()
    return results


def _as_student(graded, student):
    """A copy of graded as if student had handed it in."""
    return dataclasses.replace(graded, outcome=dataclasses.replace(graded.outcome, student=student,
                                                                   problems=list(graded.outcome.problems)))


#: Results per transaction measured: one (results arrive apart), and a batch (a saturated writer's lot).
BATCHES = (1, 20)


def writer_rate(results, url, course_id, root, writes, batch):
    """Results per second of Writer.write + journal.append, batch results per transaction, into url."""
    gradebook = open_gradebook(url, course_id)
    writer = Writer(gradebook, root, url)
    try:
        started = time.perf_counter()
        for first in range(0, writes, batch):
            chunk = [_as_student(results[number % len(results)], f"bench-{number:05d}")
                     for number in range(first, min(first + batch, writes))]
            journal.append(root, url, writer.write(chunk))
        return writes / (time.perf_counter() - started)
    finally:
        writer.close()
        gradebook.close()


def writer_capacity(folder, server, base, writes):
    """Part 2: {database: results/s}, and the mean bytes of a result's autograded notebooks."""
    course_id, _ = course_settings(base)
    results = real_results(base)
    sizes = [sum(len(c) for p, c in r.files.items() if p.endswith(".ipynb")) for r in results]
    rates = {}
    for kind in ("SQLite", "PostgreSQL"):
        for batch in BATCHES:
            root = folder / f"writer-{kind}-{batch}"
            root.mkdir()
            url = (f"sqlite:///{root / 'gradebook.db'}" if kind == "SQLite"
                   else server.create_database(f"writer_{batch}"))
            rates[f"{kind}, {batch}/commit"] = writer_rate(results, generated(base, url), course_id, root, writes,
                                                           batch)
    return rates, sum(sizes) / len(sizes)


def projection(cost, rates):
    """Part 3: per N, hours for CLASS_SIZE submissions = max(workers' hours, writer's hours) per database."""
    rows = []
    for cores in CORE_COUNTS:
        workers = CLASS_SIZE * cost / cores / 3600
        row = {"cores": cores, "workers_h": workers}
        for kind, rate in rates.items():
            writer = CLASS_SIZE / rate / 3600
            row[kind] = {"hours": max(workers, writer), "binds": "workers" if workers >= writer else "writer"}
        rows.append(row)
    return rows


def table(header, rows):
    """Print rows (lists of cells) under header, columns aligned: text left, numbers right."""
    cells = [header, *[[c if isinstance(c, str) else f"{c:,.2f}" for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()


def report(rows, same, cells, rates, size, projected):
    """Print the three parts as aligned tables."""
    print("\n1. Grading cost (cost = wall s x cores / submissions; task = mean worker s per submission)")
    table(["grader", "cores", "wall s", "subs/min", "cost s/sub/core", "task s"],
          [[r["grader"], str(r["cores"]), r["wall_s"], r["per_minute"], r["cost_s"],
            "-" if r["task_s"] is None else r["task_s"]] for r in rows])
    ratio = rows[2]["cost_s"] / rows[1]["cost_s"]
    print(f"cluster/local cost: {ratio:.3f} ({'within' if ratio <= 1.05 else 'NOT within'} the 5% target); "
          f"stock/local cost: {rows[0]['cost_s'] / rows[1]['cost_s']:.2f}")
    print(f"scores of {cells} grade cells: {'the same' if same else 'DIFFERENT'} in all three gradebooks\n")
    print(f"2. The single writer (Writer.write + journal.append: a commit and an fsync'd journal append per batch "
          f"of results ready together, 1 when the writer keeps up, more when it does not); "
          f"a result's autograded notebooks: {size / 1024:,.0f} KiB")
    table(["database", "results/s", ">= 100/s", "worker cores served at 2 s/sub"],
          [[kind, rate, "yes" if rate >= 100 else "NO", f"{rate * 2:,.0f}"] for kind, rate in rates.items()])
    print(f"3. A class of {CLASS_SIZE:,} submissions at {rows[2]['cost_s']:.2f} s/sub/core (cluster), hours")
    table(["worker cores", "workers h", *[f"{kind} h (binds)" for kind in rates]],
          [[str(r["cores"]), r["workers_h"], *[f"{r[k]['hours']:,.2f} ({r[k]['binds']})" for k in rates]]
           for r in projected])
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=int(os.environ.get("SUBMISSIONS", "40")),
                        help="submissions per assignment (default: $SUBMISSIONS or 40)")
    parser.add_argument("--writes", type=int, default=int(os.environ.get("WRITES", "2000")),
                        help="results replayed through the writer per database (default: $WRITES or 2000)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    arguments = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder, PostgresServer() as server:
        durable(server)
        rows, same, cells, base = grade_three_ways(Path(folder), server, arguments.submissions)
        rates, size = writer_capacity(Path(folder), server, base, arguments.writes)
    projected = projection(rows[2]["cost_s"], rates)
    ratio = report(rows, same, cells, rates, size, projected)
    print(f"(the whole benchmark took {time.perf_counter() - started:.0f} s)")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(
            {"grading": rows, "cluster_over_local": ratio, "same_scores": same, "grade_cells": cells,
             "writer_results_per_s": rates, "result_notebook_bytes": size, "writes": arguments.writes,
             "projection": projected, "class_size": CLASS_SIZE}, indent=2) + "\n")
    if not same:
        raise SystemExit("the scores differ")


if __name__ == "__main__":
    main()
