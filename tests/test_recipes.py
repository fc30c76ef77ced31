"""The README's recipes run as written: docs/recipes/many-machines.sh and exchange.sh, each run whole.

Each runs on a scratch copy of the course, on loopback only, with the session's throw-away
PostgreSQL server (tests/services.py), real Dask processes and real nbgrader. What each must leave:
the grades the sample class's cases expect, in the gradebook; the files of each step; and the
committed release/ unchanged, byte for byte.
"""
import csv
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, copy_course
from services import VENV_BIN, processes, tail, wait_gone

from coursetools.course import find, function_scores
from coursetools.sample_class import CLASS, functions_of, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

RECIPES = REPO / "docs" / "recipes"
#: What `pip install` of the course needs besides the course files.
PACKAGE_FILES = ("pyproject.toml", "requirements.txt")


def tree_digest(folder):
    """{relative path: sha256} of every file under folder."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def release_state(course):
    """The course's release/: git's word on it (the scratch course commits it), and its files' hashes."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "release/"], cwd=course,
                            capture_output=True, text=True, check=True).stdout
    return status, tree_digest(course / "release")


def scratch_course(folder):
    """A copy of the course that `pip install` accepts too."""
    folder.mkdir()
    copy_course(folder)
    for name in PACKAGE_FILES:
        shutil.copy(REPO / name, folder / name)
    git = ["git", "-c", "user.name=recipes", "-c", "user.email=recipes@localhost"]
    for command in (["init", "-q"], ["add", "release"], ["commit", "-q", "-m", "the release, as committed"]):
        subprocess.run([*git, *command], cwd=folder, check=True, capture_output=True)
    return folder


def clean_environment(home, **settings):
    """The environment of an instructor's shell: no PYTHONPATH, no virtualenv on PATH, a home of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p).resolve() != VENV_BIN.resolve()) or "/usr/bin:/bin"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), COURSE_VENV=str(VENV_BIN.parent), **{k: str(v) for k, v in settings.items()})
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_scores(course, cases, db_url=None):
    """Each case's points per function in the gradebook are what the case expects."""
    for name in {case.assignment for case in cases}:
        table = function_scores(course, find(name, course), db_url)
        functions = functions_of(course, name)
        for case in (c for c in cases if c.assignment == name):
            assert case.student in table, f"{name}/{case.student} is not in the gradebook"
            row = table[case.student]
            assert list(row) == functions
            expected = case.expected({f: top for f, (_, top) in row.items()})
            assert {f: score for f, (score, _) in row.items()} == expected, f"{name}/{case.student}"


class Listeners:
    """Watches the TCP ports that processes started from `marker` (a path in their command line) listen on."""

    def __init__(self, marker):
        self.marker, self.seen, self._stop = str(marker), set(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _ours(self):
        pids = set()
        for pid in processes(lambda fields: True):
            try:
                if self.marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    pids.add(pid)
            except OSError:
                pass
        return pids

    def _watch(self):
        while not self._stop.wait(0.5):
            ours = self._ours()
            if not ours:
                continue
            listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                if any(re.search(rf"pid={pid}\b", line) for pid in ours):
                    self.seen.add(line.split()[3])  # the local address:port

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        left = self._ours()
        for pid in left:  # the script's own processes, if it left any: stopped, then the test fails
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(left, 10)
        self.left = left


def run_recipe(script, env, log, timeout):
    started = time.monotonic()
    with open(log, "w") as out:
        done = subprocess.run(["bash", str(RECIPES / script)], env=env, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout, cwd=env["HOME"])
    print(f"{script}: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{tail(log, 80)}"


MANY_MACHINES_CASES = [c for c in (*CLASS["backprop"], *CLASS["heights"])
                       if c.student in ("full-solution", "J_b3-sigma-for-d_sigma", "dfdmu-sign-error")]


def test_many_machines_recipe(tmp_path, postgres_server):
    course = scratch_course(tmp_path / "course")
    for case in MANY_MACHINES_CASES:
        write_submission(course, case)
    release_before = release_state(course)
    assert release_before[0] == ""
    grader_venv = tmp_path / "grader"
    env = clean_environment(
        tmp_path / "home", COURSE=course, PG_BIN=postgres_server.bin, PGHOST=postgres_server.socket_dir,
        DB_NAME="recipe", CERTS=tmp_path / "tls", SCHEDULER_HOST="127.0.0.1", WORKER_HOST="127.0.0.1",
        SCHEDULER_PORT=free_port(), DASHBOARD=f"127.0.0.1:{free_port()}", WORKERS=2,
        WORKER_DIR=tmp_path / "dask", GRADER_VENV=grader_venv)
    with Listeners(grader_venv) as listeners:
        run_recipe("many-machines.sh", env, tmp_path / "many-machines.log", timeout=1800)
    assert not listeners.left, f"processes of the recipe outlived it: {listeners.left}"
    assert listeners.seen, "no scheduler or worker was seen listening"
    assert all(address.startswith("127.0.0.1:") for address in listeners.seen), listeners.seen

    # The gradebook: the grader's role owns the database and its tables; nbgrader's alembic version is there.
    with postgres_server.connect("recipe") as connection:
        owner = connection.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'recipe'")
        assert owner.fetchone()[0] == "grader"
        owners = {row[0] for row in connection.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {"grader"}
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert {row[0] for row in connection.execute("SELECT name FROM assignment")} == {"backprop", "heights"}
    db_url = f"postgresql+psycopg://grader@/recipe?host={postgres_server.socket_dir}"
    check_scores(course, MANY_MACHINES_CASES, db_url)

    # The workers ran from the installed copy: no checkout, no PYTHONPATH.
    installed = list(grader_venv.glob("lib/python3*/site-packages/coursetools/grading/executors.py"))
    assert installed, "coursetools is not installed in the grader's environment"
    for name in ("scheduler", "workers"):
        log = (tmp_path / "dask" / f"{name}.log").read_text()
        assert "tls://127.0.0.1:" in log and "0.0.0.0" not in log, log[-3000:]

    # export and report
    with open(course / "grades.csv", newline="") as exported:
        rows = {(row["assignment"], row["student_id"]): float(row["raw_score"]) for row in csv.DictReader(exported)}
    for case in MANY_MACHINES_CASES:
        table = function_scores(course, find(case.assignment, course), db_url)
        assert rows[(case.assignment, case.student)] == sum(score for score, _ in table[case.student].values())
    for name in ("backprop", "heights"):
        assert (course / "reports" / name / "index.html").is_file()
    assert sorted(p.name for p in (tmp_path / "tls").glob("*.pem")) == \
        ["127.0.0.1-key.pem", "127.0.0.1.pem", "ca-key.pem", "ca.pem", "grader-key.pem", "grader.pem"]

    assert release_state(course) == release_before


EXCHANGE_LEARNERS = ("full-solution", "dfdmu-sign-error")


def test_exchange_recipe(tmp_path):
    course = scratch_course(tmp_path / "course")
    release_before = release_state(course)
    assert release_before[0] == ""
    exchange, homes = tmp_path / "exchange", tmp_path / "homes"
    env = clean_environment(tmp_path / "home", COURSE=course, EXCHANGE=exchange, HOMES=homes,
                            ASSIGNMENTS="heights", LEARNERS=" ".join(EXCHANGE_LEARNERS), GRADE_FLAGS="--jobs 2")
    run_recipe("exchange.sh", env, tmp_path / "exchange.log", timeout=1200)

    notebook = find("heights", course).notebook
    cases = [c for c in CLASS["heights"] if c.student in EXCHANGE_LEARNERS]
    check_scores(course, cases)  # the course's own gradebook.db
    assert (exchange / "calculus-for-ml" / "outbound" / "heights" / notebook).is_file()
    inbound = sorted(p.name.split("+")[0] for p in (exchange / "calculus-for-ml" / "inbound").iterdir())
    assert inbound == sorted(EXCHANGE_LEARNERS)
    for who in EXCHANGE_LEARNERS:
        assert (course / "submitted" / who / "heights" / notebook).is_file()
        feedback = list((homes / who / "heights" / "feedback").glob(f"*/{notebook.removesuffix('.ipynb')}.html"))
        assert len(feedback) == 1, f"{who} fetched {feedback}: each learner gets only their own feedback"
        ours = course / "feedback" / who / "heights" / f"{notebook.removesuffix('.ipynb')}.html"
        assert feedback[0].read_bytes() == ours.read_bytes()
    assert not (tmp_path / "home" / ".local" / "share" / "jupyter" / "nbgrader_cache").exists()

    assert release_state(course) == release_before


def test_the_readme_names_steps_the_script_has():
    """The README points at the scripts' steps by name; each must be one the script accepts."""
    readme = (REPO / "README.md").read_text()
    script = (RECIPES / "many-machines.sh").read_text()
    steps = set(re.search(r"\n {4}(database \|[^)]*)\)", script).group(1).replace(" ", "").split("|"))
    named = set(re.findall(r"many-machines\.sh ([a-z]+)", readme))
    assert named, "the README names no step of docs/recipes/many-machines.sh"
    assert named <= steps, named - steps
    assert "docs/recipes/exchange.sh" in readme
    # The one option the README gives for a new gradebook is the one both scripts use.
    option = "--CourseDirectory.release_directory="
    assert option in readme
    for name in ("many-machines.sh", "exchange.sh"):
        assert f'generate_assignment "$assignment"' in (RECIPES / name).read_text()
        assert option in (RECIPES / name).read_text()
