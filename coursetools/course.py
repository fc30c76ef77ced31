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
    """One nbgrader assignment: its name and the file names of its notebooks, in order of name.

    Any assignment stock nbgrader grades is one: one notebook or several, other files beside them
    (data, helper modules), manually graded cells.  The course's own assignments have one notebook
    each, which `notebook`, `source`, `release` and `learner_copy` name when no notebook is given.
    """

    name: str
    notebooks: tuple

    @property
    def notebook(self):
        """The file name of the assignment's one notebook; ValueError if it has several."""
        if len(self.notebooks) != 1:
            raise ValueError(f"assignment {self.name!r} has {len(self.notebooks)} notebooks: "
                             f"{', '.join(self.notebooks)}; name one")
        return self.notebooks[0]

    def source(self, root, notebook=None):
        """A master notebook, with solutions and hidden tests (the one notebook unless named)."""
        return Path(root) / "source" / self.name / (notebook or self.notebook)

    def sources(self, root):
        """The master notebooks, in order."""
        return [self.source(root, notebook) for notebook in self.notebooks]

    def release(self, root, notebook=None):
        """A generated learner notebook (the one notebook unless named)."""
        return Path(root) / "release" / self.name / (notebook or self.notebook)

    def learner_copy(self, root):
        """The learner notebook at the top of the repository (of an assignment of one notebook)."""
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
    """Every assignment under root/source, in order of name: each folder holding a notebook (*.ipynb) at its top.

    As stock nbgrader's generate_assignment and autograde take them: the notebooks at the top of
    the folder are the assignment's, everything else beside them (and below) its other files.
    """
    found = []
    for folder in sorted((Path(root) / "source").iterdir()):
        notebooks = tuple(sorted(p.name for p in folder.glob("*.ipynb") if p.is_file())) if folder.is_dir() else ()
        if notebooks:
            found.append(Assignment(folder.name, notebooks))
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
    """Regenerate release/ from source/; copy each assignment's learner notebook, if it has one only, to root.

    Each assignment is generated into a scratch folder first and swapped in only once nbgrader
    succeeded: a failed run leaves the committed release/<assignment> as it was.
    """
    import tempfile

    for assignment in assignments(root):
        scratch = Path(tempfile.mkdtemp(prefix=".release-", dir=root))
        try:
            nbgrader(root, "generate_assignment", assignment.name, "--force",
                     f"--CourseDirectory.release_directory={scratch}", *([] if database else ["--no-db"]))
            target = Path(root) / "release" / assignment.name
            target.parent.mkdir(exist_ok=True)
            if target.exists():
                target.rename(scratch / "previous")
            (scratch / assignment.name).rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if len(assignment.notebooks) == 1:  # learners of an assignment of several notebooks work in release/
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


#: The cell metadata by which a source notebook's test cell declares the checks module that checks
#: its function: {"coursetools": {"checks": "readonly.backprop_checks"}}.
METADATA_KEY = "coursetools"


def declared_checks(cell):
    """The checks module a source notebook's test cell (a code cell with grade_id test_...) declares, or None."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    declared = cell.get("metadata", {}).get(METADATA_KEY)
    module = declared.get("checks") if isinstance(declared, dict) else None
    if cell.get("cell_type") != "code" or not str(grade_id).startswith("test_"):
        return None
    return module if isinstance(module, str) and module else None


def checks_declared(root, assignment):
    """Whether the grader's own call applies to assignment: a test cell of a source notebook declares a checks
    module (declared_checks).

    Without one, the assignment is graded exactly as stock nbgrader grades it, and reported per cell.
    """
    return any(declared_checks(cell) for path in assignment.sources(root)
               for cell in nbformat.read(path, as_version=4).cells)


@dataclass(frozen=True)
class Parts:
    """What an assignment's points are counted in, in notebook order.

    unit: "function" where a checks module is declared, "cell" where none is; names: the parts;
    of: {(notebook name, grade or task cell name): its part}; functions: the parts that are the
    learner's functions (test cells named test_<function>[_...], the course's rule).
    """

    unit: str
    names: tuple
    of: dict
    functions: frozenset

    def part(self, notebook, cell):
        """The part of a graded cell of notebook (its name without .ipynb); None for a cell the source lacks."""
        return self.of.get((notebook, cell))


def parts(root, assignment, checked=None):
    """The Parts of assignment, from its source notebooks.

    With a checks module (checked; by default checks_declared), each test cell counts for the function
    it names and a graded cell naming none is a part of its own; without one, every graded cell (code
    or markdown, autograded or manual, and task cells) is a part, named `<cell>` or, where the
    assignment has several notebooks, `<notebook>/<cell>`.
    """
    checked = checks_declared(root, assignment) if checked is None else checked
    sources = [(path.stem, nbformat.read(path, as_version=4)) for path in assignment.sources(root)]
    functions = [f for _, notebook in sources for f in graded_functions(notebook)] if checked else []
    names, of = [], {}
    for stem, notebook in sources:
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id")
            if grade_id in functions and meta.get("solution") and grade_id not in names:
                names.append(grade_id)
            if not grade_id or not (meta.get("grade") or meta.get("task")):
                continue
            try:
                part = function_of(grade_id, functions) if cell.cell_type == "code" else None
            except ValueError:
                part = None
            if part is None:
                part = grade_id if len(sources) == 1 else f"{stem}/{grade_id}"
            if part not in names:
                names.append(part)
            of[(stem, grade_id)] = part
    return Parts("function" if checked else "cell", tuple(names), of, frozenset(functions))


def function_scores(root, assignment, db_url=None, parts_=None):
    """Scores per student and part, read from the gradebook (the course's, see settings, unless db_url).

    Returns {student: {part: (score, max_score)}}, where a part's score is the sum of its cells'
    scores; the parts (see `parts`) are the graded functions of an assignment with a checks module,
    its graded cells otherwise.
    """
    from nbgrader.api import Gradebook  # slow to import; only the grading paths need it

    parts_ = parts_ or parts(root, assignment)
    table = {}
    with Gradebook(settings(root, db_url)[1]) as gradebook:
        for submission in gradebook.assignment_submissions(assignment.name):
            row = {part: [0.0, 0.0] for part in parts_.names}
            for graded in submission.notebooks:
                for grade in graded.grades:
                    part = parts_.part(graded.name, grade.name)
                    if part is None:
                        continue  # a cell the source no longer has
                    row[part][0] += grade.score
                    row[part][1] += grade.max_score
            table[submission.student_id] = {f: tuple(v) for f, v in row.items()}
    return table
