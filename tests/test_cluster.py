"""`make grade` on a Dask cluster of separate worker processes, into a PostgreSQL gradebook.

The reference is the same class graded on this machine into SQLite (its corpus cases in the
session's graded corpus); the cluster must give the same grades and comments, cell by cell, and
the class report on PostgreSQL must count what the gradebook holds.  The workers are real `dask worker` processes (TLS on
loopback, certificates made by the test) that cannot see the course folder: a tmpfs hides it in
their mount namespace.  The database is a real PostgreSQL server on a Unix socket.
"""
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, copy_course
from corpus import MISTAKES, corpus
from services import processes, wait_gone
from grading_runs import PROBE, PYTHON_PATH, gradebook_cells, in_front_of_J_b1, prepared_postgres, run_grader
from report_tables import mistakes_of, outcome_counts, read_csv

from coursetools.course import assignments, function_scores, nbgrader, release
from coursetools.grading.executors import ATTEMPTS
from coursetools.grading.worker import FAIL_TASK_ON, KILL_WORKER_ON
from coursetools.journal import path_of as journal_path
from coursetools.journal import read as read_journal
from coursetools.report.cli import report
from coursetools.sample_class import write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


#: Hostile submissions of tests/test_grade.py that end quickly.
HOSTILE = [in_front_of_J_b1("kernel-exits", "import os\nos._exit(3)"),
           in_front_of_J_b1("reads-home", "import os\nopen(os.path.expanduser('~root/.bashrc')).read()"), PROBE]


def class_cases():
    """At least 20 corpus cases of both assignments (right, mistakes, tricks, breakages) and hostile ones."""
    chosen, kinds = [], {}
    for kind, case in corpus():
        key = (case.assignment, kind)
        if kinds.get(key, 0) < 3:
            kinds[key] = kinds.get(key, 0) + 1
            chosen.append(case)
    return chosen + HOSTILE


def some_cases(per_assignment):
    """The first per_assignment cases of each assignment of class_cases(): a smaller class."""
    chosen = []
    for case in class_cases():
        if sum(c.assignment == case.assignment for c in chosen) < per_assignment:
            chosen.append(case)
    return chosen


def make_class(folder, cases=None):
    folder.mkdir(parents=True, exist_ok=True)
    course = copy_course(folder)
    release(course)
    for case in class_cases() if cases is None else cases:
        write_submission(course, case)
    return course


def cells_of(url, cases):
    """The gradebook's grades and comments of the given cases' submissions."""
    wanted = {(case.assignment, case.student) for case in cases}
    return {key: value for key, value in gradebook_cells(url).items() if key[:2] in wanted}


def hiding(folder):
    """A command prefix that runs a worker in a mount namespace where folder is an empty tmpfs."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount -t tmpfs -o size=1m coursetools-hidden "$0" && exec "$@"', str(folder)]


def tls_arguments(cluster):
    security = cluster.security
    return ["--scheduler", cluster.address, "--tls-ca-file", security.tls_ca_file,
            "--tls-cert", security.tls_client_cert, "--tls-key", security.tls_client_key]


@pytest.fixture(scope="module")
def local_reference(graded_corpus, tmp_path_factory):
    """The class graded on this machine into SQLite: its corpus cases in the session's graded corpus
    (conftest), its hostile cases in a course of their own.  A list of the two courses."""
    hostile = make_class(tmp_path_factory.mktemp("local"), HOSTILE)
    done = run_grader(hostile, "--jobs", "2", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return [graded_corpus, hostile]


def reference_cells(reference, cases):
    """The local reference's grades and comments of the given cases."""
    found = {}
    for course in reference:
        found.update(cells_of(f"sqlite:///{course / 'gradebook.db'}", cases))
    return found


def reference_outcomes(reference, cases):
    """{(assignment, student): (score, texts)} of the given cases in the local reference's journals."""
    wanted = {(case.assignment, case.student) for case in cases}
    return {key: (o.score, o.texts()) for course in reference for key, o in read_journal(course).items()
            if key in wanted}


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory, postgres_server, dask_cluster):
    """The class graded through a TLS cluster of two workers that cannot see it, into PostgreSQL."""
    course = make_class(tmp_path_factory.mktemp("cluster"))
    url = prepared_postgres(course, postgres_server.create_database())
    cluster = dask_cluster(n_workers=2, tls=True, wrap=hiding(course))
    probe = cluster.client()
    try:
        seen = probe.run(lambda: os.listdir(str(course)))
    finally:
        probe.close()
    done = run_grader(course, "--db", url, *tls_arguments(cluster), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"course": course, "url": url, "run": done, "seen": seen, "cluster": cluster}


def test_the_class_has_20_cases_of_every_kind():
    cases = class_cases()
    assert len(cases) >= 20
    assert {c.assignment for c in cases} == {"backprop", "heights"}


def test_workers_cannot_see_the_course_folder(on_cluster):
    assert list(on_cluster["seen"].values()) == [[], []]
    assert f"on {on_cluster['cluster'].address}" in on_cluster["run"].stderr


def test_cluster_into_postgres_equals_local_into_sqlite_cell_by_cell(on_cluster, local_reference):
    expected = reference_cells(local_reference, class_cases())
    assert len(expected) > 200
    assert gradebook_cells(on_cluster["url"]) == expected
    ours = {k: (o.score, o.texts()) for k, o in read_journal(on_cluster["course"], on_cluster["url"]).items()}
    assert ours == reference_outcomes(local_reference, class_cases())
    assert len(ours) == len(class_cases())


def test_the_cluster_wrote_nothing_into_the_sqlite_gradebook(on_cluster):
    assert gradebook_cells(f"sqlite:///{on_cluster['course'] / 'gradebook.db'}") == {}  # release() made it


def test_stock_feedback_and_export_work_on_the_postgres_gradebook(on_cluster):
    course, url = on_cluster["course"], on_cluster["url"]
    for assignment in assignments(course):
        nbgrader(course, "generate_feedback", assignment.name, "--force", "--db", url)
    nbgrader(course, "export", "--to", str(course / "grades.csv"), "--db", url)
    import csv

    rows = list(csv.DictReader(open(course / "grades.csv")))
    students = {case.student for case in class_cases()}
    assert len(rows) == 2 * len(students)  # nbgrader exports every student for every assignment
    full = [row for row in rows if row["student_id"] == "full-solution"]
    assert [float(row["score"]) == float(row["max_score"]) > 0 for row in full] == [True, True]
    assert (course / "feedback" / "full-solution" / "backprop" / "1-Backpropagation.html").exists()


def test_on_postgresql_the_report_equals_the_gradebook_and_the_corpus(on_cluster, local_reference):
    """make report on the cluster's PostgreSQL gradebook: functions.csv counts what the gradebook holds, each
    corpus case is counted under the mistakes corpus.MISTAKES names, each hostile one as locally."""
    course, url = on_cluster["course"], on_cluster["url"]
    report(course, db_url=url)
    hostile = local_reference[1]
    report(hostile, ["backprop"])
    local = {row["student"]: mistakes_of(row) for row in read_csv(hostile / "reports" / "backprop" / "submissions.csv")}
    assert set(local) == {case.student for case in HOSTILE}
    for assignment in assignments(course):
        folder = course / "reports" / assignment.name
        assert read_csv(folder / "functions.csv") == outcome_counts(function_scores(course, assignment, url))
        rows = read_csv(folder / "submissions.csv")
        assert len(rows) == sum(case.assignment == assignment.name for case in class_cases())
        for row in rows:
            key = (assignment.name, row["student"])
            expected = local[row["student"]] if key in {(c.assignment, c.student) for c in HOSTILE} else \
                MISTAKES.get(key, {})
            assert mistakes_of(row) == expected, key
        assert "postgresql" in (folder / "index.html").read_text()


def test_a_killed_client_run_again_gives_the_same_gradebook(tmp_path, postgres_server, dask_cluster,
                                                            local_reference):
    cases = some_cases(5)
    course = make_class(tmp_path / "killed-client", cases)
    url = prepared_postgres(course, postgres_server.create_database())
    cluster = dask_cluster(n_workers=2)
    client = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course), "--db", url,
                               "--scheduler", cluster.address], cwd=REPO, env={**os.environ, "PATH": PYTHON_PATH},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = journal_path(course, url)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (journal.exists() and journal.read_text().count("\n") >= 3):
        time.sleep(0.05)
    client.kill()
    client.wait()
    done = run_grader(course, "--db", url, "--scheduler", cluster.address, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already graded" in done.stderr
    assert gradebook_cells(url) == reference_cells(local_reference, cases)
    records = read_journal(course, url)
    assert len(records) == len(cases) == 10


# --------------------------------------------------------------------------- lost workers are never grades

def bundle_holders(client):
    """{worker name: [keys of the assignments' bundles it holds]}, as the scheduler sees it."""
    def holders(dask_scheduler):  # (nested: pickled by value, for a scheduler that cannot import this module)
        found = {}
        for key, state in dask_scheduler.tasks.items():
            if str(key).startswith("bundle-"):
                for worker in state.who_has or ():
                    found.setdefault(worker.name, []).append(key)
        return found

    return client.run_on_scheduler(holders)


def kill_a_busy_worker(cluster, client, grader):
    """SIGKILL a worker while its kernel runs, the only holder of a bundle where there is one; start another.

    Returns (the victim's name, the bundles it held alone), or None if the run ended first.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and grader.poll() is None:
        live = [w for w in cluster.workers if w.process.poll() is None]
        busy = [w for w in live if processes(lambda fields, pid=str(w.pid): fields[1] == pid)]
        if busy:
            held = bundle_holders(client)
            alone = {w.name: [k for k in held.get(w.name, []) if sum(k in keys for keys in held.values()) == 1]
                     for w in busy}
            victim = max(busy, key=lambda w: len(alone[w.name]))
            victim.kill(signal.SIGKILL)
            cluster.add_worker()
            return victim.name, alone[victim.name]
        time.sleep(0.05)
    return None


def test_a_worker_sigkilled_at_several_moments_costs_no_grade(tmp_path, postgres_server, dask_cluster,
                                                             local_reference):
    """Three SIGKILLs (after the first result, mid-run, near the end), each of a worker running a kernel and
    holding a bundle alone where one does, and a new worker started each time: the grades are those of a
    run without kills, cell by cell, each submission journaled once, and none lost."""
    cases = some_cases(5)
    course = make_class(tmp_path / "sigkills", cases)
    url = prepared_postgres(course, postgres_server.create_database())
    cluster = dask_cluster(n_workers=2, tls=True)
    grader = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course), "--db", url,
                               *tls_arguments(cluster)], cwd=REPO, env={**os.environ, "PATH": PYTHON_PATH},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal, kills = journal_path(course, url), []
    try:
        with cluster.client() as client:
            for moment in (1, len(cases) // 2, len(cases) - 3):  # results journaled before the kill
                while grader.poll() is None and not (journal.exists() and journal.read_text().count("\n") >= moment):
                    time.sleep(0.05)
                kills.append(kill_a_busy_worker(cluster, client, grader))
        output, _ = grader.communicate(timeout=900)
    finally:
        grader.kill()
    assert grader.returncode == 0, output
    assert None not in kills[:2], f"the run ended before the kills: {kills}\n{output}"
    scheduler_log = cluster.scheduler.log.read_text()
    assert "lose scattered data" not in scheduler_log
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted((r["assignment"], r["student"]) for r in lines) == sorted((c.assignment, c.student) for c in cases)
    outcomes = read_journal(course, url)
    assert not [o for o in outcomes.values() if any(p.kind == "worker-lost" for p in o.problems)]
    assert cells_of(url, cases) == reference_cells(local_reference, cases), kills
    assert {k: (o.score, o.texts()) for k, o in outcomes.items()} == reference_outcomes(local_reference, cases)


def test_a_submission_that_kills_its_worker_every_time_scores_0_alone(tmp_path, dask_cluster, local_reference):
    """A submission whose task ends its worker process each time it runs (the test-only KILL_WORKER_ON hook)
    scores 0, and its reason says that it killed the workers; everyone else is graded as without it.

    The cluster is one worker with a nanny, which starts it again; the killer runs first, the others wait
    behind it on the same worker.  The scheduler allows no failure (distributed.scheduler.allowed-failures
    = 0, the default is 3), so that the tasks waiting behind the killer are marked failed with it (Dask's
    KilledWorker) the first time it kills the worker: they never ran, so they are handed out again."""
    honest = some_cases(1)
    killer = dataclasses.replace(next(c for c in class_cases() if c.student == "full-solution"),
                                 student="a-kills-its-worker")  # (first: submissions are read by name)
    course = make_class(tmp_path / "killer", [killer, *honest])
    cluster = dask_cluster(n_workers=1, nanny=True, env={KILL_WORKER_ON: killer.student,
                                                         "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    done = run_grader(course, "--scheduler", cluster.address, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    failed = [line for line in cluster.scheduler.log.read_text().splitlines()
              if "marked as failed because 1 workers died" in line]
    assert len(failed) >= 2, failed  # the killer, and what waited behind it
    outcomes = read_journal(course)
    assert set(outcomes) == {(c.assignment, c.student) for c in [killer, *honest]}
    lost = outcomes[(killer.assignment, killer.student)]
    assert lost.score == 0 and lost.problems[0].kind == "worker-lost", lost
    assert lost.texts()[0] == "it killed the grader's worker each time it was run: 1 worker died under it", lost
    assert not [o for k, o in outcomes.items() if k != (killer.assignment, killer.student)
                and any(p.kind == "worker-lost" for p in o.problems)]
    assert cells_of(f"sqlite:///{course / 'gradebook.db'}", honest) == reference_cells(local_reference, honest)


def test_a_task_cancelled_or_failing_is_tried_again_and_never_recorded_as_a_grade(tmp_path, dask_cluster):
    """Mid-run, another client cancels the assignment's bundle and with it every task that needs it (what a
    scheduler that lost scattered data did): those tasks are handed out again and graded.  A task that
    raises on every worker (the test-only FAIL_TASK_ON hook) is tried ATTEMPTS times, then neither
    journaled nor written, and the run ends with a course-level error that says to run again."""
    full = next(c for c in class_cases() if c.student == "full-solution")
    failing = dataclasses.replace(full, student="fails-on-every-worker")
    course = make_class(tmp_path / "cancelled", [full, failing])
    cluster = dask_cluster(n_workers=1, env={FAIL_TASK_ON: failing.student})
    grader = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course),
                               "--scheduler", cluster.address], cwd=REPO, env={**os.environ, "PATH": PYTHON_PATH},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cancelled = []
    try:
        with cluster.client() as client:
            def grading(dask_scheduler):  # the bundles' keys, once a task is being graded
                states = {str(k): ts.state for k, ts in dask_scheduler.tasks.items()}
                if any(k.startswith("grade-") and s == "processing" for k, s in states.items()):
                    return [k for k in states if k.startswith("bundle-")]
                return []

            from distributed import Future

            while grader.poll() is None and not cancelled:
                keys = client.run_on_scheduler(grading)
                if keys:
                    client.cancel([Future(key, client) for key in keys], force=True)
                    cancelled.extend(keys)
                time.sleep(0.05)
        output, _ = grader.communicate(timeout=600)
    finally:
        grader.kill()
    assert cancelled, output
    assert grader.returncode == 1, output
    assert "1 submissions could not be written or graded" in output
    assert f"{full.assignment}/{failing.student}: RuntimeError: {FAIL_TASK_ON} names {failing.student}" in output
    assert "run again" in output
    outcomes = read_journal(course)
    assert set(outcomes) == {(full.assignment, full.student)}
    assert not outcomes[(full.assignment, full.student)].problems
    graded = gradebook_cells(f"sqlite:///{course / 'gradebook.db'}")
    assert {key[1] for key in graded} == {full.student}
    assert all(value[0] > 0 for key, value in graded.items() if key[3].startswith("test_"))
    log = "\n".join(w.log.read_text() for w in cluster.workers)  # (its first try may have been cancelled)
    assert ATTEMPTS - 1 <= log.count(f"{FAIL_TASK_ON} names {failing.student}") <= ATTEMPTS


# --------------------------------------------------------------------------- clear errors before grading

@pytest.fixture
def small_course(tmp_path):
    (tmp_path / "small").mkdir()
    course = copy_course(tmp_path / "small")
    release(course)
    write_submission(course, next(c for c in class_cases() if c.student == "full-solution"))
    return course


def test_an_unreachable_database_is_a_clear_error(small_course, tmp_path):
    url = f"postgresql+psycopg://nobody:secret@/course?host={tmp_path / 'no-server'}"
    done = run_grader(small_course, "--db", url, timeout=120)
    assert done.returncode == 1
    assert "cannot open the gradebook postgresql+psycopg://nobody:***@/course" in done.stderr
    assert "secret" not in done.stderr
    assert not (small_course / "autograded").exists()


def test_a_student_id_longer_than_the_gradebook_allows_is_refused_and_the_rest_graded(small_course):
    long = small_course / "submitted" / ("s" * 129) / "backprop"
    shutil.copytree(small_course / "submitted" / "full-solution" / "backprop", long)
    done = run_grader(small_course, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "longer than 128 characters" in done.stderr
    assert not (small_course / "autograded" / ("s" * 129)).exists()
    assert (small_course / "autograded" / "full-solution").is_dir()


def test_an_assignment_missing_from_the_gradebook_is_a_clear_error(small_course, postgres_url):
    done = run_grader(small_course, "--db", postgres_url, timeout=120)
    assert done.returncode == 1
    assert "assignment 'backprop' is not in the gradebook" in done.stderr
    assert "nbgrader generate_assignment backprop" in done.stderr
    assert not (small_course / "autograded").exists()


def test_the_gradebook_of_nbgrader_config_is_honoured(small_course):
    other = small_course / "elsewhere.db"
    shutil.copy(small_course / "gradebook.db", other)
    before = (small_course / "gradebook.db").read_bytes()
    with open(small_course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {f'sqlite:///{other}'!r}\n")
    done = run_grader(small_course, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (small_course / "gradebook.db").read_bytes() == before
    graded = gradebook_cells(f"sqlite:///{other}")
    assert {key[1] for key in graded} == {"full-solution"}
    assert all(value[0] > 0 for key, value in graded.items() if key[3].startswith("test_"))


def test_no_process_of_the_clusters_is_left(dask_cluster):
    cluster = dask_cluster(n_workers=1)
    pids = cluster.pids()
    cluster.stop()
    assert wait_gone(pids, 10) == []



def test_a_later_run_on_the_same_scheduler_keeps_its_own_settings(dask_cluster):
    """The scheduler keeps the first worker plugin of a name: a run's settings must not be a former run's.

    An unsandboxed run (work one trusts), then a sandboxed one, on one scheduler that outlives both:
    the second must grade sandboxed, and a third like the first reuses the first's plugin.
    """
    from coursetools import sandbox
    from coursetools.grading.executors import DaskExecutor

    cluster = dask_cluster(n_workers=1)
    seen = []
    for sandboxed, memory in ((False, 111 * sandbox.MiB), (True, sandbox.LIMITS["memory"]), (False, 111 * sandbox.MiB)):
        executor = DaskExecutor(scheduler=cluster.address, sandboxed=sandboxed, warm=False,
                                limits={**sandbox.LIMITS, "memory": memory})
        try:
            seen.append((executor.plugin.name, executor.probe()))
            held = executor.client.run(lambda dask_worker: sorted(  # every run's plugin stays on the worker
                name for name in dask_worker.plugins if name.startswith("coursetools-grader")))
        finally:
            executor.close()
    (unsandboxed, first), (sandboxed, second), (again, third) = seen
    assert (first, second, third) == ([False], [True], [False])
    assert unsandboxed == again != sandboxed
    assert list(held.values()) == [sorted({unsandboxed, sandboxed})]
