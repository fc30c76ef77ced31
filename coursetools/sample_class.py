"""A sample class: submissions made from the full solution, each with one known change.

Every submission starts from the released notebook, the one a learner gets.
``full`` fills every solution cell with the master solution; a case then
changes named cells.  Each case says what each function must score: 0 for
the functions it breaks, some points for those it breaks only partly, full
marks for the rest.
"""
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursetools.course import find, graded_functions

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class Case:
    """One submission.

    student: its student id, named after what it tests.
    edits: (grade_id, old, new) changes to the full solution, in order: old
        text, which must occur exactly once in the cell, becomes new; with
        old None the whole cell becomes new; with both None the cell is deleted.
    broken: the functions this case must lose all points of; "*" for all.
    points: (function, points) pairs for functions expected to keep only
        some points (a visible test passed, a hidden one failed).
    untouched: submit the release as it is, with no solution filled in.
    """

    student: str
    assignment: str
    edits: tuple = ()
    broken: tuple = ()
    points: tuple = ()
    untouched: bool = False
    note: str = field(default="", compare=False)

    def expected(self, maxima):
        """The points each function should score, given {function: max points}."""
        lost = set(maxima) if self.untouched or "*" in self.broken else set(self.broken)
        partial = dict(self.points)
        return {f: 0.0 if f in lost else float(partial.get(f, top)) for f, top in maxima.items()}

    @property
    def right(self):
        """True when the case is a right answer, which must keep full marks."""
        return not (self.untouched or self.broken or self.points)


def _solution_text(source):
    """The cell's source with the solution markers removed and their contents kept."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def full_solution(root, assignment):
    """The released notebook with every solution cell filled in from the master."""
    master = nbformat.read(assignment.source(root), as_version=4)
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: _solution_text(cell.source)
        for cell in master.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    notebook = nbformat.read(assignment.release(root), as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
    return notebook


def submission(root, case):
    """The notebook a case submits."""
    assignment = find(case.assignment, root)
    if case.untouched:
        return nbformat.read(assignment.release(root), as_version=4)
    notebook = full_solution(root, assignment)
    for grade_id, old, new in case.edits:
        cell = next((c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id), None)
        if cell is None:
            raise ValueError(f"{case.student}: no cell {grade_id}")
        if old is None and new is None:
            notebook.cells.remove(cell)
        elif old is None:
            cell.source = new
        elif cell.source.count(old) != 1:
            raise ValueError(f"{case.student}: {old!r} is not in cell {grade_id} exactly once")
        else:
            cell.source = cell.source.replace(old, new)
    return notebook


def write_submission(root, case):
    """Write the case under root/submitted/<student>/<assignment>/ as nbgrader collects it."""
    assignment = find(case.assignment, root)
    folder = Path(root) / "submitted" / case.student / case.assignment
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(assignment.release(root).parent, folder)
    nbformat.write(submission(root, case), folder / assignment.notebook)
    return folder


def stamp_as_collected(folder, moment):
    """Write what `nbgrader collect` gives a submission beside its notebook: timestamp.txt (moment, an aware
    datetime, in nbgrader's format) and submission_secret.txt (what `nbgrader submit` draws), without which
    `nbgrader release_feedback` cannot name the learner's feedback."""
    import datetime
    import secrets

    utc = moment.astimezone(datetime.timezone.utc)
    (Path(folder) / "timestamp.txt").write_text(utc.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    (Path(folder) / "submission_secret.txt").write_text(secrets.token_hex(64))


def functions_of(root, assignment_name):
    """The graded functions of an assignment, in notebook order."""
    return graded_functions(nbformat.read(find(assignment_name, root).source(root), as_version=4))


def _backprop(student, edits=(), broken=(), **kwargs):
    return Case(student, "backprop", tuple(edits), tuple(broken), **kwargs)


BACKPROP = (
    _backprop("full-solution"),
    _backprop("untouched-release", untouched=True),
    _backprop("J_b3-sigma-for-d_sigma", [("J_b3", "J * d_sigma(z3)", "J * sigma(z3)")], ["J_b3"]),
    _backprop("J_b2-d_sigma-of-wrong-layer", [("J_b2", "J * d_sigma(z2)", "J * d_sigma(z3)")], ["J_b2"]),
    _backprop("J_W1-missing-transpose", [("J_W1", "(J.T @ W2).T", "J.T @ W2")], ["J_W1"]),
    _backprop("J_b1-keepdims-dropped", [("J_b1", ", keepdims=True", "")], ["J_b1"]),
    _backprop("equivalent-forms", [
        ("J_b3", "J * d_sigma(z3)", "J * sigma(z3) * (1 - sigma(z3))"),
        ("J_b2", "(J.T @ W3).T", "W3.T @ J"),
        ("J_b1", "np.sum(J, axis=1, keepdims=True) / x.size", "np.mean(J, axis=1, keepdims=True)"),
    ]),
)


def _heights(student, edits=(), broken=(), **kwargs):
    return Case(student, "heights", tuple(edits), tuple(broken), **kwargs)


HEIGHTS = (
    _heights("full-solution"),
    _heights("untouched-release", untouched=True),
    _heights("dfdmu-sign-error", [("dfdmu", "factor = (x - mu) / sig ** 2", "factor = (mu - x) / sig ** 2")],
             ["dfdmu"]),
    _heights("dfdsig-missing-minus-one-over-sig", [("dfdsig", " - 1 / sig)", ")")], ["dfdsig"]),
    _heights("steepest_step-star-for-at", [("steepest_step", "residual @ dfdsig", "residual * dfdsig")],
             ["steepest_step"]),
    _heights("equivalent-forms", [
        ("dfdmu", "factor = (x - mu) / sig ** 2", "factor = (x - mu) / sig / sig"),
        ("dfdsig", "f(x, mu, sig) * ((x - mu) ** 2 / sig ** 3 - 1 / sig)",
         "f(x, mu, sig) * ((x - mu) ** 2 - sig ** 2) / sig ** 3"),
        ("steepest_step", "-2 * residual @ dfdsig(x, mu, sig)", "-2 * np.dot(residual, dfdsig(x, mu, sig))"),
    ]),
    _heights("equivalent-forms-two-terms", [
        ("dfdsig", "f(x, mu, sig) * ((x - mu) ** 2 / sig ** 3 - 1 / sig)",
         "-f(x, mu, sig) / sig + f(x, mu, sig) * (x - mu) ** 2 / sig ** 3"),
    ]),
)

#: Every sample case, by assignment.
CLASS = {"backprop": BACKPROP, "heights": HEIGHTS}
