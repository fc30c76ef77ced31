"""The single writer of the gradebook: one result at a time into the central database and `autograded/`.

The client of a run is the only process that writes the gradebook, whatever its database
(nbgrader's `CourseDirectory.db_url`: the embedded SQLite file by default, PostgreSQL for a
cluster).  Writing a result is idempotent, so a run killed anywhere and run again ends with the
same gradebook: the autograded notebooks go to `autograded/<student>/<assignment>/` first, then
the grades and comments are committed, then the caller journals the submission.
"""
import warnings
from datetime import datetime
from pathlib import Path

from coursetools.grading.errors import GradingError
from coursetools.grading.files import remove_tree, write_folder
from coursetools.grading.journal import safe

#: nbgrader's columns for ids and names are VARCHAR(128); PostgreSQL enforces it, SQLite does not.
MAX_ID = 128


def open_gradebook(db_url, course_id):
    """nbgrader's Gradebook on db_url; a database that cannot be reached is a GradingError saying which."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Gradebook(db_url, course_id)
    except SQLAlchemyError as problem:
        reason = str(getattr(problem, "orig", None) or problem).strip().splitlines()[0]
        raise GradingError(f"cannot open the gradebook {shown_url(db_url)}: {reason}") from None


def shown_url(db_url):
    """db_url without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it, it holds no password we could find
        return db_url


def check_student_ids(students):
    """Raise GradingError naming the student ids the gradebook's columns cannot hold."""
    long = sorted(s for s in students if len(s) > MAX_ID)
    if long:
        raise GradingError(f"{len(long)} student ids are longer than the gradebook's {MAX_ID} characters (nbgrader's "
                           f"limit), for example {safe(long[0], 60)!r}: rename their folders under submitted/")


class Writer:
    """Writes results into an open Gradebook and under root/autograded."""

    def __init__(self, gradebook, root):
        self.gradebook, self.root = gradebook, Path(root)

    def write(self, result):
        """Write one result; return (score, max_score, problems)."""
        with warnings.catch_warnings():
            # nbgrader's own API triggers SQLAlchemy's autoflush note on every new student; stock
            # autograde prints it too, and the grades it writes are right (tests/test_grade.py).
            warnings.filterwarnings("ignore", message="Object of type .* not in session")
            return self._write(result)

    def _write(self, result):
        gradebook, assignment, student = self.gradebook, result["assignment"], result["student"]
        problems = list(result["problems"])
        destination = self.root / "autograded" / student / assignment
        remove_tree(destination)
        if result["files"]:
            write_folder(result["files"], destination)
        gradebook.update_or_create_student(student)
        timestamp = datetime.fromisoformat(result["timestamp"]) if result["timestamp"] else None
        gradebook.update_or_create_submission(assignment, student, **({"timestamp": timestamp} if timestamp else {}))
        for notebook in gradebook.find_assignment(assignment).notebooks:
            got = result["notebooks"].get(notebook.name) or {}
            graded = got.get("graded")
            submitted = gradebook.find_submission_notebook(notebook.name, assignment, student)
            lost = []
            for grade in submitted.grades:
                if graded is not None and grade.name in graded:
                    grade.auto_score, grade.needs_manual_grade = got["grades"][grade.name]
                else:
                    grade.auto_score, grade.needs_manual_grade = 0, False
                    lost.append(grade.name)
            for comment in submitted.comments:
                comment.auto_comment = (got.get("comments") or {}).get(comment.name)
            submitted.late_submission_penalty = got.get("late_penalty")
            if graded is None:
                problems.append(f"{notebook.name}.ipynb not graded: 0 points")
            elif lost:
                problems.append(f"{notebook.name}.ipynb lacks cells {', '.join(lost)}: 0 points for them")
        try:
            gradebook.db.commit()
        except Exception as problem:
            gradebook.db.rollback()
            raise GradingError(f"the gradebook refused the grades of {assignment}/{safe(student, 60)}: "
                               f"{safe(problem, 300)}") from problem
        submission = gradebook.find_submission(assignment, student)
        return submission.score, submission.max_score, [safe(p) for p in problems]
