"""The single writer (coursetools.grading.writer) on a SQLite gradebook: no kernel, no sandbox.

The gradebook holds one assignment of one notebook: a function f with a visible test worth 1
and a hidden test worth 2, and a task cell worth 1 (graded by hand).
"""
import sqlite3
import time

import pytest

from coursetools.grading.assignment import private_gradebook
from coursetools.grading.writer import Writer
from coursetools.outcome import Graded, NotebookGrades, Outcome

STRUCTURE = {
    "name": "a", "duedate": None, "alembic_version": "e43177bfe90b",
    "notebooks": [{
        "name": "nb", "kernelspec": None,
        "grade_cells": [{"name": "test_f", "max_score": 1, "cell_type": "code"},
                        {"name": "test_f_hidden", "max_score": 2, "cell_type": "code"}],
        "solution_cells": [{"name": "f"}],
        "task_cells": [{"name": "essay", "max_score": 1, "cell_type": "markdown"}],
        "source_cells": [],
    }],
}


@pytest.fixture
def gradebook(tmp_path):
    from nbgrader.api import Gradebook

    path = private_gradebook(STRUCTURE, tmp_path / "gradebook.db", "course")
    with Gradebook(f"sqlite:///{path}", "course") as opened:
        yield opened, path


def graded(student, grades, graded_cells=("test_f", "test_f_hidden", "essay"), files=None, timestamp=None):
    outcome = Outcome("a", student, "0" * 64, timestamp=timestamp)
    notebook = NotebookGrades(graded=list(graded_cells) if graded_cells is not None else None, grades=grades,
                              comments={"f": "looks right"})
    return Graded(outcome, {"nb": notebook}, files or {})


def rows(path):
    """{(student, cell): (auto_score, needs_manual_grade)} straight from the database file."""
    with sqlite3.connect(path) as db:
        found = db.execute("""
            SELECT submitted_assignment.student_id, base_cell.name, grade.auto_score, grade.needs_manual_grade
            FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
            JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
            JOIN base_cell ON grade.cell_id = base_cell.id""").fetchall()
    return {(student, cell): (score, bool(manual)) for student, cell, score, manual in found}


def test_grades_are_written_and_the_outcome_completed(gradebook, tmp_path):
    opened, path = gradebook
    writer = Writer(opened, tmp_path, f"sqlite:///{path}")
    full = graded("ada", {"test_f": [1.0, False], "test_f_hidden": [2.0, False], "essay": [None, True]},
                  files={"nb.ipynb": b"{}", "data/extra.csv": b"1,2\n"}, timestamp="2026-11-30T12:00:00+00:00")
    full.outcome.stamps["judged"] = time.time()
    [outcome] = writer.write([full])
    writer.close()
    assert (outcome.score, outcome.max_score, outcome.problems) == (3.0, 4, [])
    assert 0 <= outcome.stage_seconds()["writing"] < 60  # stamped once the grades were committed
    assert rows(path) == {("ada", "test_f"): (1.0, False), ("ada", "test_f_hidden"): (2.0, False),
                          ("ada", "essay"): (None, True)}
    assert (tmp_path / "autograded" / "ada" / "a" / "data" / "extra.csv").read_bytes() == b"1,2\n"
    submission = opened.find_submission("a", "ada")
    assert submission.timestamp.isoformat().startswith("2026-11-30 12:00:00".replace(" ", "T"))
    assert opened.find_comment("f", "nb", "a", "ada").auto_comment == "looks right"


def test_writing_again_changes_nothing(gradebook, tmp_path):
    opened, path = gradebook
    writer = Writer(opened, tmp_path, f"sqlite:///{path}")
    batch = [graded("ada", {"test_f": [1.0, False], "test_f_hidden": [0.0, False], "essay": [None, True]})]
    writer.write(batch)
    first = rows(path)
    writer.write([graded("ada", {"test_f": [1.0, False], "test_f_hidden": [0.0, False], "essay": [None, True]})])
    writer.close()
    assert rows(path) == first and len(first) == 3


def test_a_notebook_not_graded_scores_0_and_says_so(gradebook, tmp_path):
    opened, path = gradebook
    writer = Writer(opened, tmp_path, f"sqlite:///{path}")
    [outcome] = writer.write([graded("bo", {}, graded_cells=None)])
    writer.close()
    assert outcome.score == 0 and [p.kind for p in outcome.problems] == ["not-graded"]
    assert set(rows(path).values()) == {(0.0, False)}
    assert not (tmp_path / "autograded" / "bo" / "a").exists()


def test_a_cell_missing_from_the_autograded_notebook_scores_0_and_is_named(gradebook, tmp_path):
    opened, path = gradebook
    writer = Writer(opened, tmp_path, f"sqlite:///{path}")
    [outcome] = writer.write([graded("cy", {"test_f": [1.0, False], "test_f_hidden": [2.0, False],
                                            "essay": [None, True]}, graded_cells=("test_f", "essay"))])
    writer.close()
    assert outcome.score == 1.0
    assert [(p.kind, p.text) for p in outcome.problems] == [
        ("missing-cells", "nb.ipynb lacks cells test_f_hidden: 0 points for them")]


def test_a_batch_the_gradebook_refuses_commits_nothing(gradebook, tmp_path):
    from coursetools.errors import GradingError

    opened, path = gradebook
    writer = Writer(opened, tmp_path, f"sqlite:///{path}")
    good = graded("di", {"test_f": [1.0, False], "test_f_hidden": [2.0, False], "essay": [None, True]})
    bad = graded("ed", {"test_f": [1.0, False], "test_f_hidden": [2.0, False], "essay": [None, True]})
    bad.outcome.assignment = "no-such-assignment"
    with pytest.raises(GradingError, match="refused the grades of 2 submissions"):
        writer.write([good, bad])
    writer.close()
    assert rows(path) == {}
    assert "written" not in good.outcome.stamps
