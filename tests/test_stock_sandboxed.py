"""Stock `nbgrader autograde` and the formgrader's Autograde button run students' code in the sandbox.

nbgrader_config.py puts `coursetools.grading.stock.SandboxedExecute` in nbgrader's autograde
pipeline.  Hostile submissions (the full solution with code in front of `def J_b1`) try to write
into the course folder and to read the master notebook with its hidden tests: inside the sandbox
both fail, so J_b1 scores 0 and the rest keeps full marks, and the honest full solution keeps full
marks.  The tests run as root, where unsandboxed code would succeed.  Without bubblewrap, stock
autograde refuses and names `make grade`; `make grade` itself still runs its own pipeline.
"""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursetools.course import find, function_scores, nbgrader, release
from coursetools.journal import read as read_journal
from coursetools.sample_class import CLASS, Case, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

REPO = Path(__file__).resolve().parent.parent
PYTHON_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

FULL = CLASS["backprop"][0]
HIDDEN_CASE = "(6, 7, 37, 41)"  # a case of J_b1's hidden test, in source/ only
FUNCTIONS = ("J_b3", "J_b2", "J_W1", "J_b1")


def in_front_of_J_b1(student, code):
    """The full solution with code run at the top of the J_b1 cell (as in tests/test_grade.py)."""
    return Case(student, "backprop", (("J_b1", "def J_b1(x, y):", code + "\ndef J_b1(x, y):"),), ())


#: A submission that keeps full marks only inside the sandbox: not root, no network, its own PID namespace.
PROBE = in_front_of_J_b1("sandbox-probe", "\n".join([
    "import os, socket",
    "assert os.getuid() != 0 and os.geteuid() != 0 and os.getgid() != 0",
    "assert [name for _, name in socket.if_nameindex()] == ['lo']",
    "assert len([p for p in os.listdir('/proc') if p.isdigit()]) < 10",
    "assert not os.path.exists(os.path.expanduser('~root/.bashrc'))",
]))


def run_grader(course, *args, timeout):
    """`python -m coursetools grade` on course, as make grade runs it."""
    return subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(course), *args], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PATH": PYTHON_PATH}, timeout=timeout)


def hostile(course):
    """Submissions whose J_b1 cell must fail in the sandbox: {student: case}."""
    pwned = course / "PWNED"
    source = course / "source" / "backprop"
    cases = [
        in_front_of_J_b1("writes-course-root", f"open({str(pwned)!r}, 'w').write('pwned')"),
        in_front_of_J_b1("prints-source", "import glob\n"
                                          f"found = glob.glob({str(source / '*.ipynb')!r}) or "
                                          f"[{str(source / '1-Backpropagation.ipynb')!r}]\n"
                                          "print(open(found[0]).read())"),
        in_front_of_J_b1("prints-source-relative",
                         "print(open('../../../source/backprop/1-Backpropagation.ipynb').read())"),
    ]
    return {case.student: case for case in cases}


#: A right answer that displays script: it keeps full marks, and what nbgrader writes shows no HTML.
DISPLAYS_SCRIPT = in_front_of_J_b1("displays-script", "from IPython.display import HTML, display\n"
                                                      "display(HTML('<img src=x onerror=\"alert(1)\">'))")


def make_class(course):
    release(course)
    cases = {FULL.student: FULL, PROBE.student: PROBE, DISPLAYS_SCRIPT.student: DISPLAYS_SCRIPT, **hostile(course)}
    for case in cases.values():
        write_submission(course, case)
    return cases


def j_b1_outputs(course, student):
    """The outputs of the J_b1 cell of the student's autograded notebook (its text, its error names)."""
    notebook = nbformat.read(course / "autograded" / student / "backprop" / "1-Backpropagation.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "J_b1")
    return json.dumps(cell.outputs), {o.get("ename") for o in cell.outputs if o.get("output_type") == "error"}


def assert_graded_in_the_sandbox(course, cases):
    scores = function_scores(course, find("backprop", course))
    assert set(cases) <= set(scores)
    full = scores[FULL.student]
    assert list(full) == list(FUNCTIONS)
    assert all(score == maximum > 0 for score, maximum in full.values()), full
    assert scores[PROBE.student] == full  # its asserts hold only in the sandbox: not root, no network, own PIDs
    assert scores[DISPLAYS_SCRIPT.student] == full
    shown = (course / "autograded" / DISPLAYS_SCRIPT.student / "backprop" / "1-Backpropagation.ipynb").read_text()
    displayed = [o for o in json.loads(j_b1_outputs(course, DISPLAYS_SCRIPT.student)[0]) if "data" in o]
    assert "text/html" not in shown and [list(o["data"]) for o in displayed] == [["text/plain"]]
    for student in hostile(course):
        got = scores[student]
        assert got["J_b1"] == (0.0, full["J_b1"][1]), (student, got)
        assert {f: got[f] for f in FUNCTIONS[:3]} == {f: full[f] for f in FUNCTIONS[:3]}, (student, got)
        text, errors = j_b1_outputs(course, student)
        assert errors & {"FileNotFoundError", "PermissionError", "OSError"}, (student, text[:2000])
        assert HIDDEN_CASE not in text and "BEGIN HIDDEN TESTS" not in text
    assert not (course / "PWNED").exists()


def test_stock_autograde_runs_students_code_in_the_sandbox(course):
    assert HIDDEN_CASE in (course / "source/backprop/1-Backpropagation.ipynb").read_text()
    cases = make_class(course)
    done = nbgrader(course, "autograde", "backprop", "--force", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "UNSANDBOXED" not in done.stderr
    assert_graded_in_the_sandbox(course, cases)


#: The formgrader's Autograde button: FormgradeExtension loads the course's config, and each request
#: makes an NbGraderAPI (its `api` property) and calls `autograde(assignment_id, student_id)` in the
#: Jupyter server's own process.  Here one process grades several students in turn, as the server does.
FORMGRADER = """
import json, os, sys
from nbgrader.apps import NbGraderAPI
from nbgrader.apps.nbgraderapp import NbGrader
from nbgrader.coursedir import CourseDirectory

app = NbGrader()
app.load_config_file()  # as FormgradeExtension.load_config: the config of the folder it serves
coursedir = CourseDirectory(parent=app)
results, prepared = {}, []
for student in sys.argv[1:]:
    coursedir.parent.load_config_file()  # as the formgrader's BaseApiHandler.api, at each request
    api = NbGraderAPI(coursedir, parent=coursedir.parent)
    results[student] = api.autograde("backprop", student)
    from coursetools.grading import stock
    prepared.append([id(p) for p in stock._PREPARED.values()])
print(json.dumps({"results": results, "prepared": prepared, "pid": os.getpid()}))
"""


def run_formgrader(course, students, path=PYTHON_PATH, env=None):
    done = subprocess.run([sys.executable, "-c", FORMGRADER, *students], cwd=course, capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **(env or {})}, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_formgrader_autograde_button_runs_students_code_in_the_sandbox(course):
    cases = make_class(course)
    ran = run_formgrader(course, list(cases))
    for student, result in ran["results"].items():
        assert result["success"], (student, result)
        assert "UNSANDBOXED" not in result.get("log", "")
    # One sandbox check and one slot for the process, reused by every later Autograde.
    assert len(ran["prepared"][0]) == 1 and all(p == ran["prepared"][0] for p in ran["prepared"])
    assert glob.glob(f"/dev/shm/coursetools-{ran['pid']}-*") == []  # removed when the process ended
    assert_graded_in_the_sandbox(course, cases)


def bare_path(tmp_path):
    """A PATH with python and nothing else: no bwrap."""
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    return str(bare)


def test_without_bubblewrap_stock_autograde_refuses_and_names_make_grade(course, tmp_path_factory):
    release(course)
    write_submission(course, FULL)
    path = bare_path(tmp_path_factory.mktemp("bare"))
    command = [sys.executable, "-m", "nbgrader", "autograde", "backprop", "--force"]
    done = subprocess.run(command, cwd=course, capture_output=True, text=True, env={**os.environ, "PATH": path},
                          timeout=600)
    assert done.returncode != 0
    assert "make grade" in done.stderr and "--unsandboxed" in done.stderr and "bubblewrap" in done.stderr
    assert not (course / "autograded" / FULL.student / "backprop").exists()  # nbgrader removed what it wrote

    button = run_formgrader(course, [FULL.student], path=path)["results"][FULL.student]
    assert not button["success"]
    assert "make grade" in button.get("log", "") + button.get("error", "")

    # Only explicitly, for work one trusts: unsandboxed, and it says so.
    trusted = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PATH": path, "COURSETOOLS_UNSANDBOXED": "1"})
    assert trusted.returncode == 0, trusted.stderr
    assert "UNSANDBOXED" in trusted.stderr
    got = function_scores(course, find("backprop", course))[FULL.student]
    assert all(score == maximum > 0 for score, maximum in got.values())


def test_make_grade_sets_its_own_pipeline_over_the_course_config(course, monkeypatch):
    """The grader's Autograde loads nbgrader_config.py, then puts its four steps where Execute is: no SandboxedExecute."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata

    from coursetools.grading import autograde
    from coursetools.grading.answers import AddGraderCells, TakeGraderCells
    from coursetools.grading.execute import GuardedExecute
    from coursetools.grading.inert import MakeInert
    from coursetools.grading.metadata import CheckMetadata
    from coursetools.grading.stock import SandboxedExecute

    seen = {}

    def start(app):
        seen["steps"], seen["sanitize"] = list(app.autograde_preprocessors), list(app.sanitize_preprocessors)

    monkeypatch.setattr(Autograde, "start", start)
    saved = list(sys.path)
    try:
        autograde.autograde({"assignment": "backprop", "checks": {}, "files": {}}, {"student": "someone"},
                            {"sandbox": ["--slot", "0"], "kernel_folder": str(course)}, course,
                            course / "private.db", seed=0)
    finally:
        sys.path[:] = saved
    assert SandboxedExecute not in seen["steps"]
    stock = Autograde.autograde_preprocessors.default()
    at = [s.__name__ for s in stock].index("Execute")
    ours = [CheckMetadata if step is CheckCellMetadata else step for step in stock]  # its schema checked once
    assert seen["steps"] == [*ours[:at], AddGraderCells, GuardedExecute, TakeGraderCells, MakeInert, *ours[at + 1:]]
    assert seen["sanitize"] == [CheckMetadata if step is CheckCellMetadata else step
                                for step in Autograde.sanitize_preprocessors.default()]


def test_make_grade_still_grades_with_the_course_config(course):
    """The real `make grade` on the same class: its own sandbox and check, the answers came back, nothing double."""
    cases = make_class(course)
    done = run_grader(course, "--jobs", "1", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_graded_in_the_sandbox(course, cases)
    full = read_journal(course)[("backprop", FULL.student)]
    problems = full["problems"] if isinstance(full, dict) else full.problems
    assert list(problems) == [], problems  # the grader's steps ran: its own call got its answers
