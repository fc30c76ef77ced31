"""`make grade` is total: whatever `submitted/` holds, the run ends with exit 0, every valid folder
graded once, every other one refused with a line naming it safely, and no submission changes what
another gets or what the report believes (issue 16's findings, one submission each).

One class, graded once (then again, and into a second gradebook).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import REPO, copy_course
from grading_runs import FAST, PYTHON_PATH, run_grader

from coursetools.course import find, function_scores, release
from coursetools.journal import path_of as journal_path, read as read_journal
from coursetools.sample_class import CLASS, Case, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

NORMAL = next(c for c in CLASS["backprop"] if c.student == "full-solution")
FUNCTIONS = ("J_b3", "J_b2", "J_W1", "J_b1")


def full(student):
    return Case(student, "backprop", ())


def with_code(student, code):
    """The full solution with code in a cell of its own at the end (no graded cell depends on it)."""
    return Case(student, "backprop", (("J_b1", "def J_b1(x, y):", "def J_b1(x, y):"),)), code


#: An input transformer, set in J_b3's cell, that answers every later call of the grader with 10**400.
HUGE_ANSWERS = ("import re as _re\n"
                "def _huge(lines):\n"
                "    text = ''.join(lines)\n"
                "    found = _re.search(r\"print_answers\\(globals\\(\\), '[^']*', '(\\w+)'\", text)\n"
                "    if not found:\n        return lines\n"
                "    return [\"print('coursetools-answers: ' + __import__('json').dumps({'function': %r, \"\n"
                "            \"'answers': [[10 ** 400] * 3] * 3}))\\n\" % found.group(1)]\n"
                "get_ipython().input_transformers_cleanup.append(_huge)\n"
                "def J_b3")
FORGED_CHECK = ("from readonly.checking import CheckFailed\n"
                "def J_b1(x, y):\n"
                "    raise CheckFailed('forged <img src=x onerror=alert(1)>', 'J_b1/sigma-for-d_sigma')\n"
                "def _unused(x, y):")
FORGED_ERRORS = ["raise MemoryError('forged')",
                 "from nbclient.exceptions import CellTimeoutError\nraise CellTimeoutError('forged')",
                 "raise OSError(11, 'Resource temporarily unavailable')"]
XSS = ("from IPython.display import display, HTML, SVG\n"
       "display(HTML('<img src=x onerror=\"document.title=1\">'))\n"
       "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>'))")


def add_cells(folder, sources):
    path = folder / "1-Backpropagation.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)


def edit_json(folder, change):
    path = folder / "1-Backpropagation.ipynb"
    notebook = json.loads(path.read_text())
    change(notebook)
    path.write_text(json.dumps(notebook))


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def make_class(course):
    """Write the class; return (students graded, {folder name as bytes: why it is refused})."""
    submitted = course / "submitted"
    write_submission(course, NORMAL)
    for student in (".grade-journal.jsonl", '=HYPERLINK("http://x.example","x")', "-dash"):
        write_submission(course, full(student))
    os.makedirs(os.path.join(os.fsencode(submitted), b"m-\xff", b"backprop"))
    shutil.copytree(os.fsencode(submitted / "full-solution" / "backprop"),
                    os.path.join(os.fsencode(submitted), b"m-\xff", b"backprop"), dirs_exist_ok=True)
    (submitted / "mallory").mkdir()
    (submitted / "mallory" / "backprop").symlink_to("../../source/backprop")
    write_submission(course, Case("huge-answers", "backprop", (("J_b3", "def J_b3", HUGE_ANSWERS),)))
    write_submission(course, Case("forged-check", "backprop", (("J_b1", "def J_b1(x, y):", FORGED_CHECK),)))
    add_cells(write_submission(course, full("forged-errors")), FORGED_ERRORS)
    add_cells(write_submission(course, full("shows-script")), [XSS])
    folder = write_submission(course, full("exactly-100-files"))
    count = sum(len(files) for _, _, files in os.walk(folder))
    for number in range(100 - count):
        (folder / f"extra-{number}.txt").write_text(str(number))
    edit_json(write_submission(course, full("deep-metadata")),
              lambda nb: nb["cells"][0]["metadata"].update(deep=nested(300)))
    edit_json(write_submission(course, full("million-metadata")),
              lambda nb: nb["cells"][0]["metadata"].update(many=[{}] * 1_000_000))
    folder = write_submission(course, full("kmsg-timestamp"))
    (folder / "timestamp.txt").write_text("2024-01-01 00:00:00 /proc/kmsg")
    edit_json(write_submission(course, full("conda-kernelspec")), lambda nb: nb["metadata"].update(
        kernelspec={"name": "conda-env-ml-py", "display_name": "Python [conda env:ml]", "language": "python"}))
    folder = write_submission(course, full("sparse-file"))
    with open(folder / "sparse.bin", "wb") as sparse:
        sparse.truncate(8 * 2 ** 30)
    graded = {"full-solution", "huge-answers", "forged-check", "forged-errors", "shows-script", "exactly-100-files",
              "deep-metadata", "million-metadata", "kmsg-timestamp", "conda-kernelspec", "sparse-file"}
    return graded


@pytest.fixture(scope="module")
def total(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("total"))
    release(course)
    shutil.copyfile(course / "gradebook.db", course / "second.db")  # the assignments, no submission
    graded = make_class(course)
    env = {**os.environ, "PATH": PYTHON_PATH}
    started = time.monotonic()
    first = run_grader(course, *FAST, env=env, timeout=1500)
    seconds = time.monotonic() - started
    again = run_grader(course, *FAST, env=env, timeout=300)
    second_db = f"sqlite:///{course / 'second.db'}"
    other = run_grader(course, *FAST, "--db", second_db, "--student", "full-solution", env=env, timeout=600)
    report = subprocess.run([sys.executable, "-m", "coursetools", "report", "--root", str(course)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    return {"course": course, "graded": graded, "first": first, "again": again, "other": other,
            "report": report, "seconds": seconds, "second_db": second_db,
            "scores": function_scores(course, find("backprop", course)), "journal": read_journal(course)}


def scores_of(total, student):
    return {f: score for f, (score, _) in total["scores"][student].items()}


def test_every_run_ends_with_exit_0_and_grades_every_valid_folder_once(total):
    assert total["first"].returncode == 0, total["first"].stdout + total["first"].stderr[-5000:]
    assert set(total["scores"]) == total["graded"]
    assert {student for _, student in total["journal"]} == total["graded"]
    lines = journal_path(total["course"]).read_text().splitlines()
    assert len(lines) == len(total["graded"])
    assert total["again"].returncode == 0 and "grading 0 submissions" in total["again"].stderr
    print(f"graded {len(total['graded'])} submissions in {total['seconds']:.0f} s")


def test_folders_that_cannot_be_student_ids_are_refused_with_one_safe_line_each(total):
    err = total["first"].stderr
    refused = [line for line in err.splitlines() if line.startswith("refused ")]
    assert len(refused) == 5, refused
    for words in (".grade-journal.jsonl", "HYPERLINK", "-dash", "m-\\xff", "mallory/backprop"):
        assert any(words in line for line in refused), (words, refused)
    assert not (total["course"] / "autograded" / ".grade-journal.jsonl").exists()
    assert not (total["course"] / "autograded" / "mallory").exists()


def test_the_report_runs_and_no_csv_cell_can_start_a_formula(total):
    assert total["report"].returncode == 0, total["report"].stderr
    for path in (total["course"] / "reports").rglob("*.csv"):
        for line in path.read_text().splitlines():
            assert not re.match(r'^[=+\-@]|,[=+\-@]', line), (path, line)


def test_honest_odd_submissions_keep_full_marks(total):
    for student in ("full-solution", "exactly-100-files", "kmsg-timestamp", "conda-kernelspec", "forged-errors",
                    "shows-script"):
        got = total["scores"][student]
        assert all(score == maximum > 0 for score, maximum in got.values()), (student, got)
    kinds = [p.kind for p in total["journal"][("backprop", "kmsg-timestamp")].problems]
    assert kinds == ["bad-timestamp"], kinds


def test_forged_exception_names_are_no_problems_the_grader_saw(total):
    assert total["journal"][("backprop", "forged-errors")].problems == []


def test_a_forged_check_failure_is_counted_as_the_grader_saw_it(total):
    assert scores_of(total, "forged-check")["J_b1"] == 0
    outcome = total["journal"][("backprop", "forged-check")]
    assert outcome.mistakes["J_b1"].id == "J_b1/failed-in-notebook"
    assert "onerror" not in outcome.to_json()
    mistakes = (total["course"] / "reports" / "backprop" / "mistakes.csv").read_text()
    assert "J_b1/sigma-for-d_sigma" not in mistakes
    assert "onerror" not in (total["course"] / "reports" / "backprop" / "index.html").read_text()


def test_answers_too_large_for_a_float_are_wrong_answers(total):
    assert set(scores_of(total, "huge-answers").values()) == {0.0}
    outcome = total["journal"][("backprop", "huge-answers")]
    assert all(outcome.mistakes[f].id == f"{f}/unreadable-answer" for f in FUNCTIONS), outcome.mistakes
    assert "tampered" in [p.kind for p in outcome.problems]


@pytest.mark.parametrize("student", ["deep-metadata", "million-metadata"])
def test_a_notebook_too_deep_or_too_big_is_never_parsed_and_scores_0_with_why(total, student):
    assert set(scores_of(total, student).values()) == {0.0}
    texts = "; ".join(total["journal"][("backprop", student)].texts())
    assert "cannot be graded" in texts, texts
    assert total["journal"][("backprop", student)].seconds < 30


def test_a_sparse_file_is_too_large_before_it_is_read(total):
    outcome = total["journal"][("backprop", "sparse-file")]
    assert [p.kind for p in outcome.problems][:1] == ["too-large"], outcome.problems


def test_student_output_comes_back_inert(total):
    path = total["course"] / "autograded" / "shows-script" / "backprop" / "1-Backpropagation.ipynb"
    outputs = json.dumps([cell.get("outputs", []) for cell in nbformat.read(path, as_version=4).cells])
    assert "IPython.core.display.HTML object" in outputs  # the cell ran, and only its text came back
    assert "onerror" not in outputs and "onload" not in outputs and "text/html" not in outputs


def test_the_journal_is_per_gradebook(total):
    assert total["other"].returncode == 0, total["other"].stderr[-3000:]
    assert "grading 1 submissions" in total["other"].stderr
    assert set(read_journal(total["course"], total["second_db"])) == {("backprop", "full-solution")}
