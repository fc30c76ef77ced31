"""What the audit reads of an assignment: its graded functions, their solutions and their test cells.

Everything comes from the instructor's source notebook (`source/<assignment>/<notebook>.ipynb`):
a graded function is a solution cell (nbgrader `solution: true`) whose grade_id names it; its
solution region is the lines between `### BEGIN SOLUTION` and `### END SOLUTION`; its test cells
are the graded code cells named `test_<function>[_...]`, visible and hidden.
"""
import ast
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursetools.course import find, function_of, graded_functions
from coursetools.errors import GradingError
from coursetools.grading.answers import plan

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class Function:
    """One graded function.

    name: its name (the solution cell's grade_id); cell: its cell's source with the solution
    markers removed (the full solution, as `sample_class.full_solution` fills it in); region:
    (first, last) line numbers, 1-based and inclusive, of the solution region in `cell`.
    """

    name: str
    cell: str
    region: tuple


@dataclass(frozen=True)
class TestCell:
    """One graded test cell: its grade_id, the function it tests, its points and its source (hidden tests kept)."""

    grade_id: str
    function: str
    points: float
    source: str


@dataclass(frozen=True)
class Subject:
    """An assignment as the audit sees it.

    folder: source/<assignment>, where the notebook's kernel runs; setup: the sources of the cells
    that only import and define (run once per worker); functions: {name: Function}, notebook order;
    tests: the TestCells, notebook order; module: the checks module the test cells declare, or None.
    """

    assignment: str
    notebook: str
    folder: Path
    setup: tuple
    functions: dict
    tests: tuple
    module: str

    def maxima(self):
        """{function: its maximum points}: the sum of its test cells' points."""
        found = {name: 0.0 for name in self.functions}
        for test in self.tests:
            found[test.function] += test.points
        return found


def _strip(source):
    """(source without solution markers, (first, last) line of the region), or None without markers."""
    lines, kept, first, last = source.splitlines(), [], None, None
    for line in lines:
        if line.strip() == BEGIN:
            first = len(kept) + 1
        elif line.strip() == END:
            last = len(kept)
        else:
            kept.append(line)
    if first is None or last is None or last < first:
        return None
    return "\n".join(kept), (first, last)


def _defines_only(source):
    """Whether a cell's top level only imports and defines (functions, classes), with docstrings."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return bool(tree.body) and all(isinstance(node, allowed) or (isinstance(node, ast.Expr) and isinstance(
        node.value, ast.Constant)) for node in tree.body)


def load(root, name):
    """The Subject of the assignment called name in the course at root; GradingError if it cannot be audited."""
    try:
        assignment = find(name, root)
    except KeyError as missing:
        raise GradingError(str(missing.args[0])) from None
    if len(assignment.notebooks) != 1:
        raise GradingError(f"{name}: the audit reads an assignment of one notebook; it has {len(assignment.notebooks)}")
    path = assignment.source(root)
    source = nbformat.read(path, as_version=4)
    names = graded_functions(source)
    setup, functions, tests = [], {}, []
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if meta.get("solution") and grade_id in names:
            stripped = _strip(cell.source)
            if stripped is None:
                raise GradingError(f"{name}: the solution cell {grade_id} has no {BEGIN} ... {END} region")
            functions[grade_id] = Function(grade_id, *stripped)
            setup.append(stripped[0])
        elif meta.get("grade"):
            try:
                tests.append(TestCell(grade_id, function_of(grade_id, names), float(meta.get("points", 0)),
                                      cell.source))
            except ValueError:
                raise GradingError(f"{name}: the test cell {grade_id} names no graded function") from None
        elif _defines_only(cell.source):
            setup.append(cell.source)
    if not functions:
        raise GradingError(f"{name}: no solution cell with a {BEGIN} region")
    return Subject(name, path.name, path.parent.resolve(), tuple(setup), functions, tuple(tests),
                   plan(source).get("module"))


def corpus(root, subject, path=None):
    """[(student, function, cell)]: the corpus's real learner mistakes and right forms of subject's functions.

    The cases are the sample class (coursetools.sample_class.CLASS) and, where the course has one,
    the `corpus()` of path (default: <root>/tests/corpus.py), each (kind, Case).  A case is used
    when it is a mistake or a right form whose edits all change one graded function's cell; its
    cell is that function's solution cell with the edits applied.
    """
    import importlib.util

    from coursetools.sample_class import CLASS

    cases = [("mistake", case) for case in CLASS.get(subject.assignment, ())]
    path = Path(path) if path else Path(root) / "tests" / "corpus.py"
    if path.is_file():
        spec = importlib.util.spec_from_file_location("_audit_corpus", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases += list(module.corpus())
    found = []
    for kind, case in cases:
        targets = {grade_id for grade_id, _, _ in case.edits}
        if kind not in ("mistake", "right") or case.assignment != subject.assignment or len(targets) != 1 \
                or case.untouched:
            continue
        function = subject.functions.get(next(iter(targets)))
        if function is None:
            continue
        cell = function.cell
        for _, old, new in case.edits:
            if new is None or (old is not None and cell.count(old) != 1):
                cell = None
                break
            cell = new if old is None else cell.replace(old, new)
        if cell is not None:
            found.append((case.student, function.name, cell))
    return found
