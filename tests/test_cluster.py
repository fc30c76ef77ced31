"""`make grade` on a Dask cluster of separate worker processes, into a PostgreSQL gradebook.

The reference is the same class graded on this machine into SQLite; the cluster must give the
same grades and comments, cell by cell.  The workers are real `dask worker` processes (TLS on
loopback, certificates made by the test) that cannot see the course folder: a tmpfs hides it in
their mount namespace.  The database is a real PostgreSQL server on a Unix socket.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, copy_course
from corpus import corpus
from services import processes, wait_gone
from test_grade import PROBE, PYTHON_PATH, gradebook_cells, in_front_of_J_b1, run_grader

from coursetools.course import assignments, nbgrader, release
from coursetools.grading.journal import JOURNAL
from coursetools.grading.journal import read as read_journal
from coursetools.sample_class import write_submission


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


def make_class(folder):
    folder.mkdir(parents=True, exist_ok=True)
    course = copy_course(folder)
    release(course)
    for case in class_cases():
        write_submission(course, case)
    return course


def prepared_postgres(course, url):
    """The course's assignments generated into the PostgreSQL gradebook at url, with stock nbgrader."""
    for assignment in assignments(course):
        nbgrader(course, "generate_assignment", assignment.name, "--force", "--db", url)
    return url


def hiding(folder):
    """A command prefix that runs a worker in a mount namespace where folder is an empty tmpfs."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount -t tmpfs -o size=1m coursetools-hidden "$0" && exec "$@"', str(folder)]


def tls_arguments(cluster):
    security = cluster.security
    return ["--scheduler", cluster.address, "--tls-ca-file", security.tls_ca_file,
            "--tls-cert", security.tls_client_cert, "--tls-key", security.tls_client_key]


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The class graded on this machine into SQLite."""
    course = make_class(tmp_path_factory.mktemp("local"))
    done = run_grader(course, "--jobs", "2", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return course


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
    expected = gradebook_cells(f"sqlite:///{local_reference / 'gradebook.db'}")
    assert len(expected) > 200
    assert gradebook_cells(on_cluster["url"]) == expected
    ours = {k: (r["score"], r["problems"]) for k, r in read_journal(on_cluster["course"]).items()}
    assert ours == {k: (r["score"], r["problems"]) for k, r in read_journal(local_reference).items()}


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


def test_a_worker_killed_mid_task_loses_nothing_and_journals_once(tmp_path, postgres_server, dask_cluster,
                                                                  local_reference):
    course = make_class(tmp_path / "killed-worker")
    url = prepared_postgres(course, postgres_server.create_database())
    cluster = dask_cluster(n_workers=2)
    victim = cluster.workers[0]
    client = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course), "--db", url,
                               "--scheduler", cluster.address], cwd=REPO, env={**os.environ, "PATH": PYTHON_PATH},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = course / "autograded" / JOURNAL
    deadline = time.monotonic() + 300
    busy = []
    while time.monotonic() < deadline and not busy:  # a graded submission, and the victim's kernel running
        time.sleep(0.05)
        if journal.exists() and journal.read_text().count("\n") >= 1:
            busy = processes(lambda fields: fields[1] == str(victim.pid))  # its kernel launcher: mid-task
    victim.kill(signal.SIGKILL)
    output, _ = client.communicate(timeout=900)
    assert client.returncode == 0, output
    assert busy, "the worker was killed between tasks"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(lines) == len({(r["assignment"], r["student"]) for r in lines}) == len(class_cases())
    assert gradebook_cells(url) == gradebook_cells(f"sqlite:///{local_reference / 'gradebook.db'}")


def test_a_killed_client_run_again_gives_the_same_gradebook(tmp_path, postgres_server, dask_cluster,
                                                            local_reference):
    course = make_class(tmp_path / "killed-client")
    url = prepared_postgres(course, postgres_server.create_database())
    cluster = dask_cluster(n_workers=2)
    client = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course), "--db", url,
                               "--scheduler", cluster.address], cwd=REPO, env={**os.environ, "PATH": PYTHON_PATH},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = course / "autograded" / JOURNAL
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (journal.exists() and journal.read_text().count("\n") >= 3):
        time.sleep(0.05)
    client.kill()
    client.wait()
    done = run_grader(course, "--db", url, "--scheduler", cluster.address, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already graded" in done.stderr
    assert gradebook_cells(url) == gradebook_cells(f"sqlite:///{local_reference / 'gradebook.db'}")
    records = read_journal(course)
    assert len(records) == len(class_cases())


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


def test_a_student_id_longer_than_the_gradebook_allows_is_a_clear_error(small_course):
    long = small_course / "submitted" / ("s" * 129) / "backprop"
    shutil.copytree(small_course / "submitted" / "full-solution" / "backprop", long)
    done = run_grader(small_course, timeout=120)
    assert done.returncode == 1
    assert "longer than the gradebook's 128 characters" in done.stderr
    assert not (small_course / "autograded").exists()


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

