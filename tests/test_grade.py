"""`make grade` (coursetools.grading): hostile submissions, stock nbgrader's scores, a killed run resumed.

Hostile submissions are the full solution with code put in front of `def J_b1`
(the last graded function): each must fail inside the sandbox, so J_b1 scores
0 and J_b3, J_b2, J_W1 keep full marks, while every other student is graded
normally.  Every hostile piece of code ends by itself even if a limit failed.
"""
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, copy_course
from corpus import WRONG_J_b3
from grading_runs import (FAST, PROBE, PYTHON_PATH, SKIP_TESTS, cell_error_names, gradebook_cells,
                          in_front_of_J_b1, run_grader)

from coursetools.course import assignments, find, function_scores, nbgrader, release
from coursetools.journal import path_of as journal_path, read as read_journal
from coursetools.outcome import STAGES, STAMPS
from coursetools.sample_class import CLASS, Case, full_solution, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]



def hostile_cases(course, port):
    """(case, the exception names the J_b1 cell may show) for code that must fail in the sandbox."""
    source = course / "source" / "backprop" / "1-Backpropagation.ipynb"
    gradebook = course / "gradebook.db"
    other = course / "submitted" / "full-solution" / "backprop"
    return [
        (in_front_of_J_b1("reads-source", f"open({str(source)!r}).read()"), {"FileNotFoundError"}),
        (in_front_of_J_b1("reads-source-relative", "open('../../../source/backprop/1-Backpropagation.ipynb').read()"),
         {"FileNotFoundError"}),
        (in_front_of_J_b1("reads-gradebook", f"open({str(gradebook)!r}, 'rb').read()"), {"FileNotFoundError"}),
        (in_front_of_J_b1("writes-gradebook", f"open({str(gradebook)!r}, 'r+b').write(b'pwned')"),
         {"FileNotFoundError"}),
        (in_front_of_J_b1("writes-other-student", f"open({str(other / 'pwned.txt')!r}, 'w').write('pwned')"),
         {"FileNotFoundError"}),
        (in_front_of_J_b1("overwrites-helper", "open('readonly/backprop_checks.py', 'a').write('pwned')"),
         {"OSError", "PermissionError"}),
        (in_front_of_J_b1("reads-home", "import os\nopen(os.path.expanduser('~root/.bashrc')).read()"),
         {"FileNotFoundError", "PermissionError"}),
        (in_front_of_J_b1("opens-socket", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)"),
         {"ConnectionRefusedError", "OSError", "TimeoutError"}),
        (in_front_of_J_b1("memory-bomb", "blocks = [b'x' * (100 * 2 ** 20) for _ in range(30)]  # 3 GB at most"),
         {"MemoryError"}),
        # Each process stays under its own address-space limit; together they pass the sandbox's memory cgroup.
        (in_front_of_J_b1("memory-bomb-in-processes", "import os, time\nchildren = []\n"
                                                      "for _ in range(8):  # 8 x 400 MB, 3.2 GB at most\n"
                                                      "    child = os.fork()\n    if child == 0:\n"
                                                      "        block = b'x' * (400 * 2 ** 20)\n"
                                                      "        time.sleep(3)\n        os._exit(0)\n"
                                                      "    children.append(child)\n"
                                                      "if [os.waitpid(child, 0)[1] for child in children] != [0] * 8:\n"
                                                      "    raise MemoryError('a process was killed')"),
         {"MemoryError", "DeadKernelError"}),
        (in_front_of_J_b1("fork-burst", "import os, time\nfor _ in range(150):\n"
                                        "    if os.fork() == 0:\n        time.sleep(5)\n        os._exit(0)"),
         {"BlockingIOError"}),
        (Case("output-flood", "backprop", (("J_b1", "def J_b1(x, y):", "def J_b1(x, y):\n    import sys\n"
                                            "    for _ in range(1024):\n        sys.stdout.write('x' * 2 ** 20)"),),
              ("J_b1",)), {"OutputLimitExceeded"}),
        (in_front_of_J_b1("endless-loop", "import time\nstarted = time.time()\nwhile time.time() - started < 90:\n"
                                          "    pass"), {"CellTimeoutError", "KeyboardInterrupt"}),
        (in_front_of_J_b1("ignores-interrupt", "import time\nstarted = time.time()\n"
                                               "while time.time() - started < 90:\n    try:\n"
                                               "        time.sleep(0.1)\n    except KeyboardInterrupt:\n"
                                               "        pass"), {"CellTimeoutError", "NotRun"}),
        (in_front_of_J_b1("kernel-exits", "import os\nos._exit(3)"), {"DeadKernelError"}),
        (in_front_of_J_b1("segfault", "import ctypes\nctypes.string_at(0)"), {"DeadKernelError"}),
    ]


#: How a broken file fails: (student, what to do to the written submission, expected words in the report).
BROKEN_FILES = [
    ("corrupt-json", lambda folder: (folder / "1-Backpropagation.ipynb").write_text("{not json"), "JSON"),
    ("non-utf8", lambda folder: (folder / "1-Backpropagation.ipynb").write_bytes(
        (folder / "1-Backpropagation.ipynb").read_bytes().replace(b"def J_b3", b"def J_b3\xff\xfe", 1)), "not UTF-8"),
    ("missing-notebook", lambda folder: (folder / "1-Backpropagation.ipynb").unlink(), "missing"),
    ("renamed-notebook", lambda folder: (folder / "1-Backpropagation.ipynb").rename(folder / "mine.ipynb"),
     "found mine.ipynb"),
]


def snapshot(course):
    """Digests of every file outside the gradebook and the grader's output (autograded/, its journals)."""
    digests = {}
    for path in sorted(course.rglob("*")):
        relative = path.relative_to(course)
        if relative.parts[0] in ("autograded", "gradebook.db", ".coursetools") or not path.is_file():
            continue
        digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def structure(course):
    """The gradebook's tables that grading must not change (assignments, notebooks, cells)."""
    with sqlite3.connect(course / "gradebook.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        kept = [t for t in tables if t not in ("grade", "comment", "submitted_assignment", "submitted_notebook",
                                               "student")]
        return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in kept}


def cell_grades(course):
    """Every grade and comment in the course's gradebook.db: see gradebook_cells."""
    return gradebook_cells(f"sqlite:///{course / 'gradebook.db'}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A class of hostile submissions and two ordinary ones, graded once; the listener counts connections."""
    course = copy_course(tmp_path_factory.mktemp("hostile"))
    release(course)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    connections = []

    def accept():
        while listener.fileno() != -1:
            try:
                connections.append(listener.accept())
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    cases = hostile_cases(course, listener.getsockname()[1])
    ordinary = [c for c in CLASS["backprop"] if c.student in ("full-solution", "J_b3-sigma-for-d_sigma")]
    for case in ordinary + [PROBE] + [case for case, _ in cases]:
        write_submission(course, case)
    base = next(c for c in CLASS["backprop"] if c.student == "full-solution")
    for student, damage, _ in BROKEN_FILES:
        damage(write_submission(course, Case(student, "backprop", base.edits)))
    folder = course / "submitted" / "other-assignment" / "backprop"
    folder.mkdir(parents=True)
    nbformat.write(full_solution(course, find("heights", course)), folder / "1-Backpropagation.ipynb")
    before, cells_before = snapshot(course), structure(course)
    started = time.monotonic()
    done = run_grader(course, "--assignment", "backprop", *FAST, timeout=900)
    took = time.monotonic() - started
    time.sleep(1)
    listener.close()
    return {"course": course, "run": done, "cases": cases, "ordinary": ordinary, "before": before,
            "cells_before": cells_before, "connections": connections, "seconds": took}


def scores(course):
    return function_scores(course, find("backprop", course))


def test_the_hostile_class_is_graded_to_the_end(hostile):
    run = hostile["run"]
    assert run.returncode == 0, run.stdout + run.stderr
    students = {p.parent.name for p in (hostile["course"] / "submitted").glob("*/backprop")}
    assert set(scores(hostile["course"])) == students
    assert hostile["seconds"] < 600


HOSTILE = ["reads-source", "reads-source-relative", "reads-gradebook", "writes-gradebook", "writes-other-student",
           "overwrites-helper", "reads-home", "opens-socket", "memory-bomb", "memory-bomb-in-processes", "fork-burst",
           "output-flood", "endless-loop", "ignores-interrupt", "kernel-exits", "segfault"]


def test_every_hostile_case_is_tested(hostile):
    assert [case.student for case, _ in hostile["cases"]] == HOSTILE


@pytest.mark.parametrize("student", HOSTILE)
def test_hostile_code_fails_inside_the_sandbox_and_scores_0(hostile, student):
    case, errors = next((case, errors) for case, errors in hostile["cases"] if case.student == student)
    got = scores(hostile["course"])[case.student]
    assert got["J_b1"][0] == 0
    assert all(got[f][0] == got[f][1] > 0 for f in ("J_b3", "J_b2", "J_W1")), got
    cell = "test_J_b1" if student == "output-flood" else "J_b1"  # its flood is in J_b1's body
    assert cell_error_names(hostile["course"], case.student, cell) & errors


# Only what the grader saw itself is a problem: its clock, the kernel's exit, the memory cgroup's kill
# count, the output it counted.  A MemoryError from a process's own address-space limit, or a fork
# refused by the process limit, is seen only inside the kernel: the cell's error costs its points,
# and test_total.py shows that the same exception names raised on purpose record nothing.
@pytest.mark.parametrize("student", ["memory-bomb-in-processes", "output-flood", "endless-loop", "ignores-interrupt",
                                     "kernel-exits", "segfault"])
def test_limits_hit_are_reported(hostile, student):
    record = read_journal(hostile["course"])[("backprop", student)]
    assert record.problems, record


def test_nothing_outside_the_grades_changed(hostile):
    course = hostile["course"]
    assert snapshot(course) == hostile["before"]
    assert structure(course) == hostile["cells_before"]
    assert not (course / "submitted" / "full-solution" / "backprop" / "pwned.txt").exists()
    assert hostile["connections"] == []


def test_each_sandbox_had_a_memory_cgroup_and_none_is_left(hostile):
    from coursetools import cgroups

    found = cgroups.memory_cgroup()
    assert found is not None, "this machine cannot cap a sandbox's memory: grading relies on per-process limits"
    problems = read_journal(hostile["course"])[("backprop", "memory-bomb-in-processes")].texts()
    assert "memory" in "; ".join(problems), problems
    assert list(Path(found[0]).glob(cgroups.CGROUP_PREFIX + "*")) == []


def test_ordinary_students_and_the_probe_are_graded_normally(hostile):
    got = scores(hostile["course"])
    for case in hostile["ordinary"] + [PROBE]:
        row = got[case.student]
        assert {f: s for f, (s, _) in row.items()} == case.expected({f: m for f, (_, m) in row.items()}), case.student
    # The probe could write its working folder (a tmpfs in the sandbox), and nothing it wrote came back.
    assert not (hostile["course"] / "autograded" / PROBE.student / "backprop" / "scratch.txt").exists()


@pytest.mark.parametrize("student,words", [(s, w) for s, _, w in BROKEN_FILES] + [("other-assignment", "validate")])
def test_broken_files_score_0_with_a_reason(hostile, student, words):
    assert all(score == 0 for score, _ in scores(hostile["course"])[student].values())
    record = read_journal(hostile["course"])[("backprop", student)]
    assert words in "; ".join(record.texts()), record
    assert f"backprop/{student}" in hostile["run"].stdout


# --------------------------------------------------------------------------- tests tampered with from the notebook

#: Code that hides every later error from the traceback display and from the execute reply.
HIDE_ERRORS = ("get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
               "def forget(result):\n    result.error_in_exec = None\n"
               "get_ipython().events.register('post_run_cell', forget)\n\n")
TAMPERED = [
    Case("tests-skipped", "backprop", (("J_b3", "def J_b3", SKIP_TESTS + "def J_b3"), WRONG_J_b3),
         ("J_b3", "J_b2", "J_W1", "J_b1")),
    Case("errors-hidden", "backprop", (("J_b3", "def J_b3", HIDE_ERRORS + "def J_b3"), WRONG_J_b3), ("J_b3",)),
    # dfdmu's tests and the grader's call of it run before the cell of dfdsig: it keeps its points.
    Case("heights-tests-skipped", "heights", (("dfdsig", "def dfdsig", SKIP_TESTS + "def dfdsig"),
                                              ("dfdsig", "sig ** 3 - 1 / sig", "sig ** 3")),
         ("dfdsig", "steepest_step")),
]


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """Notebooks that tamper with their own tests, graded by stock nbgrader and by us."""
    ours = tmp_path_factory.mktemp("tampered")
    copy_course(ours)
    release(ours)
    for case in TAMPERED:
        write_submission(ours, case)
    stock = tmp_path_factory.mktemp("tampered-stock")
    shutil.rmtree(stock)
    shutil.copytree(ours, stock, symlinks=True)
    for assignment in assignments(stock):
        nbgrader(stock, "autograde", assignment.name, "--force")
    done = run_grader(ours, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return ours, stock


def test_stock_nbgrader_gives_tampered_notebooks_the_points_of_wrong_functions(tampered):
    _, stock = tampered
    for case in TAMPERED:
        got = function_scores(stock, find(case.assignment, stock))[case.student]
        wrong = case.edits[-1][0]
        assert got[wrong][0] == got[wrong][1] > 0, (case.student, got)


@pytest.mark.parametrize("case", TAMPERED, ids=lambda case: case.student)
def test_tampered_tests_give_no_points_and_the_report_says_why(tampered, case):
    ours, _ = tampered
    got = function_scores(ours, find(case.assignment, ours))[case.student]
    assert {f: s for f, (s, _) in got.items()} == case.expected({f: m for f, (_, m) in got.items()})
    problems = "; ".join(read_journal(ours)[(case.assignment, case.student)].texts())
    assert "the grader's own call" in problems and case.edits[-1][0] in problems


def test_the_grader_s_own_calls_leave_full_solutions_their_points(graded_corpus):
    ours = graded_corpus
    for assignment in ("backprop", "heights"):
        got = function_scores(ours, find(assignment, ours))["full-solution"]
        assert all(score == maximum > 0 for score, maximum in got.values()), got
        assert not read_journal(ours)[(assignment, "full-solution")].problems
    notebook = ours / "autograded" / "full-solution" / "backprop" / "1-Backpropagation.ipynb"
    assert "coursetools_answers" not in notebook.read_text()  # the grader's cells are not in what learners get


# --------------------------------------------------------------------------- same scores as stock nbgrader

def sample_course(folder, per_assignment=None):
    """A course holding the sample class (its first per_assignment cases of each assignment, if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    course = copy_course(folder)
    release(course)
    for assignment in assignments(course):
        for case in CLASS.get(assignment.name, ())[:per_assignment]:
            write_submission(course, case)
    return course


#: (assignment, student) of each case of the sample class.
SAMPLE = {(name, case.student) for name, cases in CLASS.items() for case in cases}


def sample_cells(course):
    """The grades and comments of the sample class's submissions in the course's gradebook.db."""
    return {key: value for key, value in cell_grades(course).items() if key[:2] in SAMPLE}


@pytest.fixture(scope="module")
def benign(graded_corpus, tmp_path_factory):
    """The sample class graded by `grade` (within the session's graded corpus, conftest) and by stock
    `nbgrader autograde` in a course of its own."""
    stock = sample_course(tmp_path_factory.mktemp("stock"))
    for assignment in assignments(stock):
        nbgrader(stock, "autograde", assignment.name, "--force")
    return graded_corpus, stock


def test_benign_class_scores_as_stock_nbgrader_cell_by_cell(benign):
    ours, stock = benign
    expected = cell_grades(stock)
    assert len(expected) > 50
    assert sample_cells(ours) == expected


def test_benign_class_has_no_problems_and_autograded_notebooks(benign):
    ours, _ = benign
    records = {key: record for key, record in read_journal(ours).items() if key in SAMPLE}
    assert len(records) == len(SAMPLE)
    assert all(not r.problems for r in records.values())
    for assignment, student in records:
        assert (ours / "autograded" / student / assignment / find(assignment, ours).notebook).exists()


def test_each_graded_submission_has_its_six_stamps_in_order(benign):
    ours, _ = benign
    for key, outcome in read_journal(ours).items():
        if key in SAMPLE:  # every one ran its notebook
            moments = [outcome.stamps[name] for name in STAMPS]
            assert moments == sorted(moments), (key, outcome.stamps)
            assert moments[-1] - moments[0] < 600


def test_a_second_run_grades_nothing_again(benign):
    ours, _ = benign
    grades = cell_grades(ours)
    done = run_grader(ours, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "grading 0 submissions" in done.stderr
    stages = next(line for line in done.stdout.splitlines() if "seconds per stage" in line)
    assert all(f"{stage} " in stages for stage, _, _ in STAGES), stages  # of the journal, every run
    assert cell_grades(ours) == grades


def test_killed_run_resumes_to_the_same_gradebook(benign, tmp_path):
    reference, _ = benign
    course = sample_course(tmp_path / "killed", per_assignment=4)  # killed once 3 are journaled
    kept = {(name, case.student) for name, cases in CLASS.items() for case in cases[:4]}
    grader = subprocess.Popen([sys.executable, "-m", "coursetools", "grade", "--root", str(course)], cwd=REPO,
                              env={**os.environ, "PATH": PYTHON_PATH}, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    journal = journal_path(course)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and grader.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert grader.poll() is None, "the run ended before it could be killed"
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    graded_before = len(read_journal(course))
    time.sleep(2)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _marked(p, grader.pid)]
    assert leftovers == [], [(p / "cmdline").read_bytes()[:300] for p in leftovers]
    done = run_grader(course, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"({graded_before} already graded)" in done.stderr
    assert cell_grades(course) == {key: value for key, value in sample_cells(reference).items() if key[:2] in kept}
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    assert {(r["assignment"], r["student"]) for r in lines} == kept and len(kept) == 8


def _marked(process, run):
    """Whether process belongs to the grading run of the client run (its workers and their kernel launchers)."""
    from coursetools.grading.executors import RUN_MARK

    try:
        return f"{RUN_MARK}={run}".encode() in (process / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _mentions(process, text):
    try:
        return text in (process / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_a_kernel_launcher_orphaned_while_bwrap_sets_up_leaves_nothing_behind(tmp_path):
    """Kill the launcher's parent while bwrap sets the sandbox up: every sandbox must go.

    bwrap's first process in the sandbox arms its parent-death signal only once the sandbox is
    set up.  Before the launcher stayed beside bwrap, a grader killed in those milliseconds
    (the CI run of 2026-11-22 did it) left that process, and the kernel it then started, running.
    """
    from coursetools import sandbox

    for attempt in range(10):
        scratch, private = tmp_path / f"s{attempt}", tmp_path / f"p{attempt}"
        scratch.mkdir()
        private.mkdir()
        script = (f"import os, subprocess, sys, time\n"
                  f"os.environ['JPY_PARENT_PID'] = str(os.getpid())\n"
                  f"subprocess.Popen([sys.executable, {str(sandbox.__file__)!r}, '--private', {str(private)!r}, '--',"
                  f" 'sleep', '600'], cwd={str(scratch)!r}, start_new_session=True)\n"
                  f"time.sleep(600)\n")
        parent = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_processes("bwrap", str(private))) < 2:
            pass  # two bwrap processes: it has cloned the sandbox's first process, which is setting up
        parent.kill()
        parent.wait()
    time.sleep(2)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _mentions(p, str(tmp_path))]
    for process in leftovers:  # do not leave them to the next test (the sandbox's sleep dies with its PID 1)
        with contextlib.suppress(OSError):
            os.kill(int(process.name), signal.SIGKILL)
    assert leftovers == []


def _processes(name, text):
    """The processes called name whose command line mentions text."""
    found = []
    for process in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if process.name.isdigit() and (process / "comm").read_text().strip() == name and _mentions(process, text):
                found.append(process)
    return found


# --------------------------------------------------------------------------- no sandbox, no grading

def test_without_bubblewrap_grading_stops_with_a_clear_message(tmp_path):
    (tmp_path / "course").mkdir()
    course = copy_course(tmp_path / "course")
    release(course)
    write_submission(course, CLASS["backprop"][0])
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    before = hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest()
    done = run_grader(course, env={**os.environ, "PATH": str(bare)}, timeout=120)
    assert done.returncode != 0
    assert "bubblewrap" in done.stderr and "--unsandboxed" in done.stderr
    assert hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest() == before
    unsandboxed = run_grader(course, "--unsandboxed", env={**os.environ, "PATH": str(bare)}, timeout=300)
    assert unsandboxed.returncode == 0, unsandboxed.stderr
    assert "UNSANDBOXED" in unsandboxed.stderr
    got = function_scores(course, find("backprop", course))["full-solution"]
    assert all(score == maximum > 0 for score, maximum in got.values())
