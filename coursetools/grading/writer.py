"""The single writer of the gradebook: one result at a time into the central database and `autograded/`.

The client of a run is the only process that writes the gradebook, whatever its database
(nbgrader's `CourseDirectory.db_url`: the embedded SQLite file by default, PostgreSQL for a
cluster).  Results come in batches (those ready at once), each one transaction.  Writing is
idempotent, so a run killed anywhere and run again ends with the same gradebook: the autograded
notebooks go to `autograded/<student>/<assignment>/` first, then the batch's grades and comments
are committed, then the caller journals its submissions.
"""
import time
import warnings
from pathlib import Path

from coursetools.course import cell_score
from coursetools.errors import GradingError
from coursetools.gradebook import shown_url
from coursetools.grading.files import remove_tree, write_folder
from coursetools.outcome import NotebookGrades, safe


class Writer:
    """Writes batches of results into the gradebook of an open nbgrader Gradebook, and under root/autograded.

    A batch is one transaction of its own session, with the rows nbgrader's `add_submission` makes
    (a submission mirrors the assignment's notebooks and cells), so that stock nbgrader reads them
    as its own; the assignment's structure is read once.
    """

    def __init__(self, gradebook, root, db_url=""):
        from sqlalchemy.orm import Session

        self.root, self.course_id, self.gradebook = Path(root), gradebook.course_id, shown_url(db_url)
        self.session = Session(bind=gradebook.engine, expire_on_commit=False, autoflush=False)
        self._assignments = {}

    def close(self):
        self.session.close()

    def write(self, batch):
        """Write a batch of Graded in one transaction; return their Outcomes, completed with the points written.

        The autograded notebooks are written first; the grades are committed after them; the caller
        journals the outcomes after that.  A gradebook that refuses the batch is a GradingError, and
        nothing of the batch is committed.
        """
        for graded in batch:
            destination = self.root / "autograded" / graded.outcome.student / graded.outcome.assignment
            remove_tree(destination)
            if graded.files:
                write_folder(graded.files, destination)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Object of type .* not in session")
                for graded in batch:
                    self._write(graded)
            self.session.commit()
            written = time.time()
            for graded in batch:
                graded.outcome.stamps["written"] = written
        except Exception as refused:
            self.session.rollback()
            raise GradingError(f"the gradebook refused the grades of {len(batch)} submissions: "
                               f"{safe(refused, 300)}") from refused
        return [graded.outcome for graded in batch]

    def _assignment(self, name):
        """(the Assignment, [(Notebook, grade cells, solution cells, task cells)], {cell or notebook id: name},
        max score), read once."""
        from nbgrader.api import Assignment

        if name not in self._assignments:
            assignment = self.session.query(Assignment).filter_by(name=name).one()
            notebooks = [(n, list(n.grade_cells), list(n.solution_cells), list(n.task_cells))
                         for n in assignment.notebooks]
            names = {c.id: c.name for _, *cells in notebooks for group in cells for c in group}
            names.update({n.id: n.name for n, *_ in notebooks})
            maximum = sum(c.max_score for _, grades, _, tasks in notebooks for c in grades + tasks)
            self._assignments[name] = (assignment, notebooks, names, maximum)
        return self._assignments[name]

    def _submission(self, assignment, notebooks, student_id, timestamp):
        """The student's SubmittedAssignment, made as nbgrader's add_submission makes it if it is new.

        Rows are linked by their ids, not through the assignment's and cells' collections, which
        SQLAlchemy would load whole (every submission of the class) to append to them.
        """
        from nbgrader.api import Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook

        if self.session.get(Student, student_id) is None:
            self.session.add(Student(id=student_id))
        submission = self.session.query(SubmittedAssignment).filter_by(
            assignment_id=assignment.id, student_id=student_id).one_or_none()
        if submission is None:
            submission = SubmittedAssignment(assignment_id=assignment.id, student_id=student_id)
            for notebook, grade_cells, solution_cells, task_cells in notebooks:
                submitted = SubmittedNotebook(notebook_id=notebook.id, assignment=submission)
                for cell in grade_cells:
                    Grade(cell_id=cell.id, notebook=submitted)
                for cell in solution_cells:
                    Comment(cell_id=cell.id, notebook=submitted)
                for cell in task_cells:
                    Comment(cell_id=cell.id, notebook=submitted)
                    Grade(cell_id=cell.id, notebook=submitted)
            self.session.add(submission)
        if timestamp is not None:
            submission.timestamp = timestamp
        return submission

    def _write(self, graded):
        """Set one submission's grades and comments; complete its outcome (score, max_score, lost notebooks and cells)."""
        from nbgrader.api import Grade  # noqa: F401 (the rows below are nbgrader's)
        from nbgrader.utils import parse_utc

        outcome = graded.outcome
        assignment, notebooks, names, maximum = self._assignment(outcome.assignment)
        timestamp = parse_utc(outcome.timestamp) if outcome.timestamp else None
        submission = self._submission(assignment, notebooks, outcome.student, timestamp)
        score = 0.0
        for submitted in submission.notebooks:
            name = names[submitted.notebook_id]
            got = graded.notebooks.get(name) or NotebookGrades()
            lost = []
            for grade in submitted.grades:
                cell = names[grade.cell_id]
                if got.graded is not None and cell in got.graded and cell in got.grades:
                    grade.auto_score, grade.needs_manual_grade = got.grades[cell]
                else:
                    grade.auto_score, grade.needs_manual_grade = 0, False
                    lost.append(cell)
                score += cell_score(grade.auto_score, grade.manual_score, grade.extra_credit)
            for comment in submitted.comments:
                comment.auto_comment = got.comments.get(names[comment.cell_id])
            submitted.late_submission_penalty = got.late_penalty
            if got.graded is None:
                outcome.add("not-graded", f"{name}.ipynb not graded: 0 points")
            elif lost:
                outcome.add("missing-cells", f"{name}.ipynb lacks cells {', '.join(lost)}: 0 points for them")
        outcome.score, outcome.max_score, outcome.gradebook = score, maximum, self.gradebook
