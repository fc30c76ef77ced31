"""The course on disk: its assignments, stock nbgrader commands on it, and grades per function.

A course root is a folder with nbgrader_config.py, source/, release/ and
the learner copies at the top; the repository itself is one, and the tests
build others in temporary folders.
"""
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Assignment:
    """One assignment: its nbgrader name and its notebook's file name."""

    name: str
    notebook: str

    def source(self, root):
        """The master notebook, with solutions and hidden tests."""
        return Path(root) / "source" / self.name / self.notebook

    def release(self, root):
        """The generated learner notebook."""
        return Path(root) / "release" / self.name / self.notebook

    def learner_copy(self, root):
        """The learner notebook at the top of the repository."""
        return Path(root) / self.notebook


def settings(root, db_url=None):
    """(course_id, db_url) of the course: nbgrader's CourseDirectory settings in root's nbgrader_config.py.

    The course's one rule for its gradebook: db_url if given, else CourseDirectory.db_url, else
    the embedded SQLite file gradebook.db in root.
    """
    from traitlets.config.loader import PyFileConfigLoader

    saved = list(sys.path)
    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config().CourseDirectory
    finally:
        sys.path[:] = saved
    course_id = config.get("course_id", "default_course")
    return course_id, db_url or config.get("db_url") or f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"


def assignments(root=REPO):
    """Every assignment under root/source, in order of name; each folder holds one notebook."""
    found = []
    for folder in sorted((Path(root) / "source").iterdir()):
        notebooks = sorted(folder.glob("*.ipynb"))
        if folder.is_dir() and len(notebooks) == 1:
            found.append(Assignment(folder.name, notebooks[0].name))
    return found


def find(name, root=REPO):
    """The assignment called name."""
    for assignment in assignments(root):
        if assignment.name == name:
            return assignment
    raise KeyError(f"no assignment {name!r} under {Path(root) / 'source'}")


def nbgrader(root, *args, check=True):
    """Run a stock nbgrader command in the course root; raise if it fails and check is true.

    (autograde exits non-zero when any one submission could not be graded,
    after grading all the others.)
    """
    command = [sys.executable, "-m", "nbgrader", *args]
    # nbgrader runs `alembic` from PATH: put this environment's scripts first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env={**os.environ, "PATH": path})
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed in {root}:\n{done.stdout}\n{done.stderr}")
    return done


def release(root=REPO, database=True):
    """Regenerate release/ from source/ and copy each learner notebook to the top of root."""
    for assignment in assignments(root):
        nbgrader(root, "generate_assignment", assignment.name, "--force", *([] if database else ["--no-db"]))
        shutil.copyfile(assignment.release(root), assignment.learner_copy(root))


def graded_functions(notebook):
    """The learner's functions in a notebook: the grade_ids of its solution cells, in order."""
    return [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    ]


def tests_function(grade_id, function):
    """Whether the cell grade_id tests function: its grade_id is test_<function>[_<anything>] (the course's rule)."""
    return grade_id == f"test_{function}" or grade_id.startswith(f"test_{function}_")


def function_of(grade_id, functions):
    """The function a test cell tests (see tests_function); ValueError unless exactly one."""
    matches = [f for f in functions if tests_function(grade_id, f)]
    if len(matches) != 1:
        raise ValueError(f"test cell {grade_id!r} names no single function of {functions}")
    return matches[0]


def cell_score(auto_score, manual_score, extra_credit):
    """The points of one grade, as nbgrader's Grade.score: the manual score over the automatic one, plus extra credit."""
    base = manual_score if manual_score is not None else auto_score
    return (base or 0.0) + (extra_credit or 0.0)


def function_scores(root, assignment, db_url=None):
    """Scores per student and function, read from the gradebook (the course's, see settings, unless db_url).

    Returns {student: {function: (score, max_score)}}, where a function's
    score is the sum of its test cells' scores.
    """
    from nbgrader.api import Gradebook  # slow to import; only the grading paths need it

    functions = graded_functions(nbformat.read(assignment.source(root), as_version=4))
    notebook_id = assignment.notebook.removesuffix(".ipynb")
    table = {}
    with Gradebook(settings(root, db_url)[1]) as gradebook:
        for submission in gradebook.assignment_submissions(assignment.name):
            graded = gradebook.find_submission_notebook(notebook_id, assignment.name, submission.student_id)
            row = {function: [0.0, 0.0] for function in functions}
            for grade in graded.grades:
                if grade.cell_type != "code":
                    continue
                cell = row[function_of(grade.name, functions)]
                cell[0] += grade.score
                cell[1] += grade.max_score
            table[submission.student_id] = {f: tuple(v) for f, v in row.items()}
    return table
