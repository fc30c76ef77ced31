"""`make grade` attacked as a hostile class would attack it: each attack costs its own submission only.

One class, graded once: a normal student and one submission per attack.  Each attack is code a
notebook runs (most of them in front of `def J_b1`, ending in an error if it got through, so
that J_b1 scores 0 and the functions before it keep their marks) or a submission folder made
to hurt.  The class must be graded to the end, twice, with stock feedback and export working
for everyone afterwards, nothing of an attack coming back, and nothing left behind.
"""
import inspect
import os
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import REPO, copy_course
from corpus import WRONG_J_b3
from grading_runs import FAST, alive, PYTHON_PATH, SKIP_TESTS, cell_error_names, in_front_of_J_b1, run_grader

from coursetools.course import find, function_scores, nbgrader, release
from coursetools.grading.execute import MAX_NOTEBOOK_OUTPUT_BYTES, MAX_OUTPUT_BYTES
from coursetools.grading.files import remove_tree
from coursetools.journal import path_of as journal_path, read as read_journal
from coursetools.sample_class import CLASS, Case, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


NORMAL = next(c for c in CLASS["backprop"] if c.student == "full-solution")
HIDDEN_CASE = "(6, 7, 37, 41)"  # a case of J_b1's hidden test, in source/ only

def make_deep(base, depth=1500, bottom=None):
    """depth nested folders under base, made through folder descriptors (deeper than a path can name)."""
    here = os.open(base, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("deepdeep", dir_fd=here)
        inner = os.open("deepdeep", os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = inner
    if bottom:
        os.close(os.open(bottom, os.O_WRONLY | os.O_CREAT, dir_fd=here))
    os.close(here)


DEEP = ("import os\n" + inspect.getsource(make_deep) +
        "for base in ('.', os.path.expanduser('~'), '/tmp'):\n    make_deep(base)\n"
        "raise RuntimeError('made folders 1500 deep in the working folder, the home and /tmp')")

FILL = """import os
open('sparse.bin', 'wb').truncate(60 * 2 ** 20)
for where in ('.', os.path.expanduser('~'), '/tmp'):
    for number in range(8):
        with open(os.path.join(where, f'fill{number}.bin'), 'wb') as f:
            f.write(b'x' * 32 * 2 ** 20)"""

# Sealed before the first cell: writing there fails, and so does unsealing it (a RuntimeError if either works).
KERNEL_FOLDER = """import os
from ipykernel.connect import get_connection_file
folder = os.path.dirname(get_connection_file())
try:
    open(os.path.join(folder, 'fill.bin'), 'wb').write(b'x' * 2 ** 20)
except PermissionError:
    os.chmod(folder, 0o777)
    raise RuntimeError('made the sealed kernel folder writable')
raise RuntimeError('wrote into the kernel folder')"""

AMPLIFIED = """from IPython.display import display, update_display
for _ in range(300):
    display('x', display_id='same')
update_display('y' * 100_000, display_id='same')"""

MANY_FILES = """for number in range(100_000):
    open(f'f{number}', 'w').close()
open('extra.ipynb', 'w').write('{}')
raise RuntimeError('made 100,000 files and a notebook')"""

#: (case, the functions it must score 0 on, exception names J_b1's cell may show or None, words in the report)
ATTACKS = [
    (in_front_of_J_b1("deep-folders", DEEP), ["J_b1"], {"RuntimeError"}, None),
    (in_front_of_J_b1("reads-its-notebook", "import glob\nprint(glob.glob('*.ipynb'))\n"
                                            "open('1-Backpropagation.ipynb').read()"), ["J_b1"],
     {"FileNotFoundError"}, None),
    (in_front_of_J_b1("fills-the-disk", FILL), ["J_b1"], {"OSError"}, None),
    (in_front_of_J_b1("writes-the-kernel-folder", KERNEL_FOLDER), ["J_b1"], {"PermissionError"}, None),
    (in_front_of_J_b1("amplifies-a-display", AMPLIFIED), ["J_b1"], {"OutputLimitExceeded"}, "bytes of output"),
    (in_front_of_J_b1("floods-an-error", "raise ValueError('x' * 20 * 2 ** 20)"), ["J_b1"],
     {"OutputLimitExceeded"}, "bytes of output"),
    (in_front_of_J_b1("many-files", MANY_FILES), ["J_b1"], {"RuntimeError"}, None),
    # Each cell stays under its own limit; the third passes the notebook's.
    (Case("floods-every-cell", "backprop", tuple(
        (name, f"def {name}(x, y):", f"print('x' * {int(0.7 * MAX_OUTPUT_BYTES)})\ndef {name}(x, y):") for name in
        ("J_b3", "J_b2", "J_W1"))), ["J_W1", "J_b1"], None, "output in all its cells"),
    # The numbers of examples of the notebook's tests and of the grader's call before it drew them per grading.
    (Case("special-cases-the-tests", "backprop",
          (("J_b3", "J = J * d_sigma(z3)",
            "J = J * (d_sigma(z3) if x.shape[1] in (20, 37, 5, 1, 12, 7, 4) else sigma(z3))  # the tests' N"),)),
     ["J_b3"], None, "the grader's own call"),
    # Every cell it sees is printed in the next one: the hidden tests' code lands in visible cells' output.
    (Case("replays-every-cell", "backprop", (("J_b3", "def J_b3", "_seen = []\ndef _replay(info):\n"
                                                                  "    print('\\n'.join(_seen))\n"
                                                                  "    _seen.append(info.raw_cell)\n"
                                                                  "get_ipython().events.register('pre_run_cell', "
                                                                  "_replay)\ndef J_b3"),)),
     [], None, None),
    (Case("prints-every-cell", "backprop", (("J_b3", "def J_b3", "get_ipython().events.register('pre_run_cell', "
                                                                  "lambda info: print(info.raw_cell))\ndef J_b3"),)),
     [], None, None),
]


def test_the_flood_of_every_cell_passes_only_the_notebook_limit():
    assert 2 * 0.7 * MAX_OUTPUT_BYTES < MAX_NOTEBOOK_OUTPUT_BYTES < 3 * 0.7 * MAX_OUTPUT_BYTES


def strip_solution_metadata(folder):
    """Skip the tests, make J_b3 wrong and take the nbgrader metadata off every solution cell."""
    path = folder / "1-Backpropagation.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            del cell.metadata["nbgrader"]
    nbformat.write(notebook, path)


def deep_folders(folder):
    """1500 nested folders in the submission itself, deeper than a path can name, with a file at the bottom."""
    make_deep(folder, bottom="bottom.txt")


def escape_codes(folder):
    """The notebook renamed to terminal escape codes and a forged report line."""
    (folder / "1-Backpropagation.ipynb").rename(folder / "\x1b[2J\x1b[31m\nsummary: 0 submissions graded.ipynb")


def huge_metadata(folder):
    """A cell whose nbgrader id is 5 MB of escape codes."""
    path = folder / "1-Backpropagation.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "J_b1")
    cell.metadata["nbgrader"]["grade_id"] = "\x1b[2J" * 1_250_000
    nbformat.write(notebook, path)


#: (student, edits of the full solution, what to do to the written folder, functions scoring 0, report words)
DAMAGED = [
    ("metadata-stripped", ((("J_b3", "def J_b3", SKIP_TESTS + "def J_b3"), WRONG_J_b3)), strip_solution_metadata,
     ["J_b3", "J_b2", "J_W1", "J_b1"], "the grader's own call"),
    ("deep-folders-submitted", (), deep_folders, [], None),
    ("escape-codes", (), escape_codes, ["J_b3", "J_b2", "J_W1", "J_b1"], "is missing"),
    ("huge-metadata", (), huge_metadata, ["J_b3", "J_b2", "J_W1", "J_b1"], "cannot be graded"),
]


def tree_size(folder):
    """(files, bytes) under folder."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("attacked"))
    try:
        yield grade_attacked(course, tmp_path_factory.mktemp("grader-tmp"))
    finally:  # pytest's own clean-up of old temporary folders would recurse in it and fail a later session
        remove_tree(course / "submitted" / "deep-folders-submitted")


def grade_attacked(course, tmp):
    """Write the class, grade it twice, write feedback and export; what each step gave."""
    release(course)
    write_submission(course, NORMAL)
    for case, *_ in ATTACKS:
        write_submission(course, case)
    for student, edits, damage, *_ in DAMAGED:
        damage(write_submission(course, Case(student, "backprop", edits)))
    env = {**os.environ, "PATH": PYTHON_PATH, "TMPDIR": str(tmp)}
    shm_before = set(os.listdir("/dev/shm"))
    first = run_grader(course, *FAST, env=env, timeout=1200)
    second = run_grader(course, *FAST, env=env, timeout=300)
    feedback_started = time.monotonic()
    feedback = nbgrader(course, "generate_feedback", "backprop", "--force", check=False)
    feedback_seconds = time.monotonic() - feedback_started
    export = nbgrader(course, "export", "--to", str(course / "grades.csv"), check=False)
    shm_left = sorted(set(os.listdir("/dev/shm")) - shm_before)
    return {"course": course, "first": first, "second": second, "feedback": feedback, "export": export,
            "shm_left": shm_left,
            "feedback_seconds": feedback_seconds, "tmp": tmp,
            "scores": function_scores(course, find("backprop", course)), "journal": read_journal(course)}


def test_both_runs_grade_the_class_and_exit_0(attacked):
    assert attacked["first"].returncode == 0, attacked["first"].stdout + attacked["first"].stderr[-5000:]
    assert attacked["second"].returncode == 0, attacked["second"].stderr[-5000:]
    assert "grading 0 submissions" in attacked["second"].stderr
    assert len(attacked["scores"]) == 1 + len(ATTACKS) + len(DAMAGED)


def test_the_normal_student_keeps_full_marks(attacked):
    assert all(score == maximum > 0 for score, maximum in attacked["scores"][NORMAL.student].values())
    assert attacked["journal"][("backprop", NORMAL.student)].problems == []


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack[0].student)
def test_an_attack_costs_only_what_it_touched(attacked, attack):
    case, lost, errors, words = attack
    got = attacked["scores"][case.student]
    assert {f for f, (score, _) in got.items() if score == 0} == set(lost), got
    if errors:
        assert cell_error_names(attacked["course"], case.student, "J_b1") & errors
    if words:
        assert words in "; ".join(attacked["journal"][("backprop", case.student)].texts())


@pytest.mark.parametrize("damaged", DAMAGED, ids=lambda damaged: damaged[0])
def test_a_damaged_submission_costs_only_what_it_broke(attacked, damaged):
    student, _, _, lost, words = damaged
    got = attacked["scores"][student]
    assert {f for f, (score, _) in got.items() if score == 0} == set(lost), got
    if words:
        assert words in "; ".join(attacked["journal"][("backprop", student)].texts())


def test_a_function_right_only_on_the_tests_inputs_passed_its_tests(attacked):
    """Its tests, hidden ones included, passed: only the grader's own call, on cases the notebook
    could not know (other numbers of examples), took the points back."""
    for cell in ("test_J_b3", "test_J_b3_hidden"):
        assert cell_error_names(attacked["course"], "special-cases-the-tests", cell) == set()


def test_feedback_and_export_work_for_everyone(attacked):
    assert attacked["feedback"].returncode == 0, attacked["feedback"].stderr[-3000:]
    assert attacked["export"].returncode == 0, attacked["export"].stderr[-3000:]
    feedback = attacked["course"] / "feedback"
    assert {p.name for p in feedback.iterdir()} >= {c.student for c, *_ in ATTACKS} | {NORMAL.student}
    print(f"stock generate_feedback for {len(attacked['scores'])} students: {attacked['feedback_seconds']:.1f} s")


def test_what_comes_back_stays_small(attacked):
    normal = tree_size(attacked["course"] / "autograded" / NORMAL.student)
    for student in [c.student for c, *_ in ATTACKS] + [d[0] for d in DAMAGED]:
        for where in ("autograded", "feedback"):
            folder = attacked["course"] / where / student
            if folder.exists():
                files, size = tree_size(folder)
                assert size < 3 * 2 ** 20, (where, student, size)
                assert files <= normal[0] + 1, (where, student, files)


def test_the_hidden_tests_stay_out_of_the_kernel_and_the_feedback(attacked):
    course = attacked["course"]
    assert HIDDEN_CASE in (course / "source/backprop/1-Backpropagation.ipynb").read_text()
    for student in ("prints-every-cell", "reads-its-notebook", "replays-every-cell"):
        page = (course / "feedback" / student / "backprop" / "1-Backpropagation.html").read_text()
        assert HIDDEN_CASE not in page, student
    notebook = (course / "autograded" / "reads-its-notebook" / "backprop" / "1-Backpropagation.ipynb").read_text()
    assert "[]" in notebook  # the kernel saw no notebook in its working folder


def test_student_text_is_escaped_and_bounded(attacked):
    lines = attacked["first"].stdout.splitlines() + attacked["first"].stderr.splitlines()
    assert not any("\x1b" in line for line in lines)
    assert not any(line.startswith("summary: 0") for line in lines)
    journal = journal_path(attacked["course"]).read_text()
    assert "\x1b" not in journal and "\\u001b" not in journal
    assert max(len(line) for line in journal.splitlines()) < 10_000


def test_nothing_is_left_behind(attacked):
    assert list(attacked["tmp"].iterdir()) == []
    # Only what appeared while this class was graded and whose process is gone: a shared machine's other
    # runs, still grading, are not ours to count (every process of this run has ended by now).
    assert [name for name in attacked["shm_left"] if name.startswith("coursetools-")
            and not alive(name.split("-")[1])] == []


# --------------------------------------------------------------------------- set-up and environment

@pytest.fixture
def one_student(tmp_path):
    (tmp_path / "course").mkdir()
    course = copy_course(tmp_path / "course")
    release(course)
    write_submission(course, NORMAL)
    return course


def test_grading_finds_its_own_tools_without_the_environment_on_path(one_student):
    done = subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(one_student)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = function_scores(one_student, find("backprop", one_student))[NORMAL.student]
    assert all(score == maximum > 0 for score, maximum in got.values())


def test_a_virtual_environment_reached_through_a_link_grades(one_student, tmp_path):
    link = tmp_path / "linked-venv"
    link.symlink_to(sys.prefix)
    python = link / "bin" / os.path.basename(sys.executable)
    done = subprocess.run([str(python), "-m", "coursetools", "grade", "--root", str(one_student)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PATH": f"{link / 'bin'}:/usr/bin:/bin"},
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = function_scores(one_student, find("backprop", one_student))[NORMAL.student]
    assert all(score == maximum > 0 for score, maximum in got.values())
