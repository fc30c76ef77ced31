"""Any nbgrader assignment: several notebooks, a data file, manually graded cells, no checks module of ours.

The test makes a course of its own in a temporary folder (the repository's source/ is left alone)
with one assignment, `survey`, of two notebooks that read a data file beside them; it has
autograded tests (one of partial credit, one hidden), a manually graded markdown answer, a
manually graded code answer and a task, and declares no checks module.  Four submissions (right,
wrong, one notebook missing, one notebook broken) are graded by `python -m coursetools grade` in
one copy of the course and by stock `nbgrader autograde` in another: every grade cell's
auto_score and needs_manual_grade, and each total, must be the same, but for the notebook stock
nbgrader cannot read.  `python -m coursetools report` then reports the assignment per cell.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from report_tables import read_csv

from coursetools.course import assignments, checks_declared, nbgrader, parts, release

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

PYTHON_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
NAME = "survey"
DATA = "heights,weight\n1.62,55\n1.75,70\n1.80,81\n1.68,60\n"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _cell(kind, source, grade_id, *, grade=False, solution=False, task=False, points=None, locked=False):
    cell = (new_code_cell if kind == "code" else new_markdown_cell)(source)
    cell.metadata["nbgrader"] = {"grade": grade, "solution": solution, "task": task, "locked": locked,
                                 "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def _notebook(cells):
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def source_notebooks():
    """{file name: master notebook} of the assignment."""
    load = _notebook([
        new_markdown_cell("# Part 1: the data\n\n`heights.csv`, beside this notebook, holds the survey."),
        _cell("code", "import csv", "imports", locked=True),
        _cell("code", "def load(path):\n    ### BEGIN SOLUTION\n    with open(path) as rows:\n"
                      "        return [float(row['heights']) for row in csv.DictReader(rows)]\n"
                      "    ### END SOLUTION", "load", solution=True),
        _cell("code", "heights = load('heights.csv')\nassert len(heights) == 4", "test_load", grade=True, points=2,
              locked=True),
        _cell("code", "assert heights[0] == 1.62\n### BEGIN HIDDEN TESTS\nassert abs(sum(heights) - 6.85) < 1e-9\n"
                      "### END HIDDEN TESTS", "test_load_hidden", grade=True, points=1, locked=True),
        # Partial credit: the number a test cell's last line shows is its score (stock nbgrader's rule).
        _cell("code", "3.0 * sum(1.6 < h < 1.7 for h in heights) / 2", "test_partial", grade=True, points=3,
              locked=True),
        _cell("markdown", "Why might a survey of heights be biased?\n\n=== BEGIN MARK SCHEME ===\nSelf-reporting."
                          "\n=== END MARK SCHEME ===\n\nYOUR ANSWER HERE", "explain", grade=True, solution=True,
              points=2),
    ])
    stats = _notebook([
        new_markdown_cell("# Part 2: statistics"),
        _cell("code", "import csv\nwith open('heights.csv') as rows:\n    weights = [float(r['weight']) for r in "
                      "csv.DictReader(rows)]", "data", locked=True),
        _cell("code", "def mean(values):\n    ### BEGIN SOLUTION\n    return sum(values) / len(values)\n"
                      "    ### END SOLUTION", "mean", solution=True),
        _cell("code", "assert mean([1, 2, 3]) == 2\nassert mean(weights) == 66.5", "test_mean", grade=True, points=2,
              locked=True),
        _cell("code", "# Plot the weights as you see fit (graded by hand).\n### BEGIN SOLUTION\n"
                      "print(sorted(weights))\n### END SOLUTION", "plot", grade=True, solution=True, points=1),
        _cell("markdown", "Task: say in a sentence what the mean weight tells us (graded by hand).", "task_mean",
              task=True, points=1, locked=True),  # nbgrader's task cells are locked
    ])
    return {"1-Data.ipynb": load, "2-Stats.ipynb": stats}


def make_course(folder):
    """A course in folder: the repository's nbgrader_config.py and coursetools, and the one assignment."""
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(REPO / "coursetools", folder / "coursetools", ignore=shutil.ignore_patterns("__pycache__"))
    source = folder / "source" / NAME
    source.mkdir(parents=True)
    for name, notebook in source_notebooks().items():
        nbformat.write(notebook, source / name)
    (source / "heights.csv").write_text(DATA)
    release(folder)
    return folder


def answered(folder, name, answers):
    """The released notebook name with the cells of answers ({grade_id: source}) replaced."""
    notebook = nbformat.read(folder / "release" / NAME / name, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return notebook


RIGHT = {
    "1-Data.ipynb": {"load": "def load(path):\n    with open(path) as rows:\n"
                             "        return [float(row['heights']) for row in csv.DictReader(rows)]",
                     "explain": "People round their height up."},
    "2-Stats.ipynb": {"mean": "def mean(values):\n    return sum(values) / len(values)",
                      "plot": "print(weights)"},
}
WRONG = {
    # One row short: the visible test fails, the hidden one too, partial credit 1.5 of 3.
    "1-Data.ipynb": {"load": "def load(path):\n    with open(path) as rows:\n"
                             "        return [float(row['heights']) for row in csv.DictReader(rows)][1:]"},
    "2-Stats.ipynb": {"mean": "def mean(values):\n    return sum(values) / (len(values) + 1)"},
}


def write_submissions(folder):
    """The four submissions under folder/submitted: right, wrong, one notebook missing, one notebook broken."""
    for student, answers in [("right", RIGHT), ("wrong", WRONG), ("missing-notebook", RIGHT),
                             ("broken-notebook", RIGHT)]:
        submitted = folder / "submitted" / student / NAME
        shutil.copytree(folder / "release" / NAME, submitted)
        for name, cells in answers.items():
            nbformat.write(answered(folder, name, cells), submitted / name)
    (folder / "submitted" / "missing-notebook" / NAME / "2-Stats.ipynb").unlink()
    (folder / "submitted" / "broken-notebook" / NAME / "1-Data.ipynb").write_text('{"cells": [')


def run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "coursetools", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PATH": PYTHON_PATH}, timeout=timeout)


def grades(folder):
    """{(student, notebook, cell): (auto_score, needs_manual_grade)}, {student: total score} of folder's gradebook."""
    from nbgrader.api import Gradebook

    cells, totals = {}, {}
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "calculus-for-ml") as gradebook:
        for submission in gradebook.assignment_submissions(NAME):
            totals[submission.student_id] = submission.score
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[(submission.student_id, notebook.name, grade.name)] = (grade.auto_score,
                                                                                  grade.needs_manual_grade)
    return cells, totals


STUDENTS = ["broken-notebook", "missing-notebook", "right", "wrong"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded by `python -m coursetools grade` (ours) and by stock `nbgrader autograde` (stock).

    stock nbgrader cannot read the broken notebook and fails that submission whole; so it then grades
    the submission again with the broken notebook removed, its nearest stock equivalent ("broken_as_missing").
    """
    ours = make_course(tmp_path_factory.mktemp("any-ours"))
    write_submissions(ours)
    stock = tmp_path_factory.mktemp("any-stock")
    shutil.rmtree(stock)
    shutil.copytree(ours, stock, symlinks=True)
    started = time.monotonic()
    done = run("grade", "--root", str(ours))
    seconds = time.monotonic() - started
    stock_run = nbgrader(stock, "autograde", NAME, "--force", check=False)
    stock_cells, stock_totals = grades(stock)
    (stock / "submitted" / "broken-notebook" / NAME / "1-Data.ipynb").unlink()
    again = nbgrader(stock, "autograde", NAME, "--student", "broken-notebook", "--force", check=False)
    assert again.returncode == 0, again.stderr
    missing_cells, missing_totals = grades(stock)
    ours_cells, ours_totals = grades(ours)
    return {"ours": ours, "stock": stock, "run": done, "stock_run": stock_run, "seconds": seconds,
            "cells": ours_cells, "totals": ours_totals, "stock_cells": stock_cells, "stock_totals": stock_totals,
            "broken_as_missing": ({k: v for k, v in missing_cells.items() if k[0] == "broken-notebook"},
                                  missing_totals["broken-notebook"])}


def test_an_assignment_of_several_notebooks_and_no_checks_module_is_an_assignment(tmp_path):
    course = make_course(tmp_path)
    (assignment,) = assignments(course)
    assert assignment.name == NAME and assignment.notebooks == ("1-Data.ipynb", "2-Stats.ipynb")
    assert not checks_declared(course, assignment)
    counted = parts(course, assignment)
    assert counted.unit == "cell" and counted.names == (
        "1-Data/test_load", "1-Data/test_load_hidden", "1-Data/test_partial", "1-Data/explain", "2-Stats/test_mean",
        "2-Stats/plot", "2-Stats/task_mean")
    assert not (course / "1-Data.ipynb").exists()  # learners of several notebooks work in release/
    with pytest.raises(ValueError):
        assignment.notebook


def test_make_grade_grades_every_submission(graded):
    run_ = graded["run"]
    assert run_.returncode == 0, run_.stdout + run_.stderr
    assert "4 submissions graded, 2 with problems" in run_.stdout
    assert sorted(graded["totals"]) == STUDENTS
    assert len(graded["cells"]) == 4 * 7
    print(f"python -m coursetools grade: {graded['seconds']:.1f} s for 4 submissions")


def test_the_data_file_manual_cells_and_partial_credit_are_graded(graded):
    cells = graded["cells"]
    assert cells[("right", "1-Data", "test_load_hidden")] == (1.0, False)  # read heights.csv beside it
    assert cells[("right", "2-Stats", "test_mean")] == (2.0, False)
    assert cells[("wrong", "1-Data", "test_partial")] == (1.5, False)  # the cell's number is its score
    assert cells[("right", "1-Data", "explain")] == (None, True)  # answered: awaits a manual grade
    assert cells[("wrong", "1-Data", "explain")] == (0.0, False)  # left blank: 0, as stock nbgrader gives it
    assert cells[("right", "2-Stats", "task_mean")] == (None, True)
    assert graded["totals"]["right"] == 8.0  # 12 once the 4 manual points are given


@pytest.mark.parametrize("student", ["right", "wrong", "missing-notebook"])
def test_scores_equal_stock_nbgrader_cell_by_cell(graded, student):
    ours = {k: v for k, v in graded["cells"].items() if k[0] == student}
    stock = {k: v for k, v in graded["stock_cells"].items() if k[0] == student}
    assert len(ours) == 7 and ours == stock
    assert graded["totals"][student] == graded["stock_totals"][student]


def test_a_broken_notebook_fails_stock_whole_and_costs_ours_only_that_notebook(graded):
    assert graded["stock_run"].returncode != 0
    assert "error processing assignment 'survey' for student 'broken-notebook'" in graded["stock_run"].stderr
    assert "for student 'right'" not in graded["stock_run"].stderr
    # Stock nbgrader left that submission ungraded (the rows add_submission made); ours is graded as stock
    # nbgrader grades the same submission without the notebook it cannot read.
    assert {v for k, v in graded["stock_cells"].items() if k[0] == "broken-notebook"} == {(None, True)}
    cells, total = graded["broken_as_missing"]
    assert {k: v for k, v in graded["cells"].items() if k[0] == "broken-notebook"} == cells
    assert graded["totals"]["broken-notebook"] == total == 2.0
    line = next(line for line in graded["run"].stdout.splitlines() if "survey/broken-notebook" in line)
    assert "1-Data.ipynb cannot be graded" in line
    line = next(line for line in graded["run"].stdout.splitlines() if "survey/missing-notebook" in line)
    assert "2-Stats.ipynb is missing" in line


def test_the_report_counts_each_graded_cell(graded):
    ours = graded["ours"]
    done = run("report", "--root", str(ours))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no checks module" in done.stdout
    folder = ours / "reports" / NAME
    rows = {row["cell"]: row for row in read_csv(folder / "functions.csv")}
    assert list(rows) == list(parts(ours, assignments(ours)[0]).names)
    for part, row in rows.items():  # the counts, made again from the gradebook's grades
        notebook, cell = part.split("/")
        got = [graded["cells"][(student, notebook, cell)] for student in STUDENTS]
        maximum = {"test_load": 2, "test_load_hidden": 1, "test_partial": 3, "explain": 2, "test_mean": 2,
                   "plot": 1, "task_mean": 1}[cell]
        assert int(row["awaiting_manual_grade"]) == sum(manual for _, manual in got), part
        assert int(row["full"]) == sum(score == maximum for score, _ in got), part
        assert int(row["zero"]) == sum(not manual and not score for score, manual in got), part
        assert int(row["partial"]) == sum(0 < (score or 0) < maximum for score, _ in got), part
    submissions = {row["student"]: row for row in read_csv(folder / "submissions.csv")}
    assert {s: float(row["points"]) for s, row in submissions.items()} == graded["totals"]
    assert submissions["right"]["1-Data/explain_mistake"] == "needs-manual-grade"
    assert submissions["wrong"]["1-Data/test_load_mistake"] == "not-checked"
    assert submissions["missing-notebook"]["2-Stats/test_mean_mistake"] == "missing-notebook"
    assert submissions["broken-notebook"]["1-Data/test_load_mistake"] == "broken-notebook"
    page = (folder / "index.html").read_text()
    assert "declares no checks module" in page and "Points per notebook" in page and "2-Stats.ipynb" in page


def test_the_report_of_the_stock_gradebook_says_what_it_can(graded):
    done = run("report", "--root", str(graded["stock"]))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_csv(graded["stock"] / "reports" / NAME / "submissions.csv")
    assert {row["student"] for row in rows} == set(STUDENTS)
    assert {row["2-Stats/test_mean_mistake"] for row in rows} == {"", "unrecorded"}
