"""The grader's own call: the kernel reports each function's answers on cases it cannot know; we judge them.

nbgrader's tests run in the learner's kernel, where a notebook can switch them off.  So after
the last test cell of each graded function the grader adds a cell of its own that calls
`readonly.checking.print_answers` on cases drawn from a seed derived from the submission, and
judges what comes back in its own process with the checks module's `judge`.  Which functions
are checked, and where, comes from the instructor's source notebook (`plan`), never from the
submission: deleting the nbgrader metadata of a solution cell skips nothing.
"""
import contextlib
import importlib
import json
import sys

from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

from coursetools.course import declared_checks, function_of, graded_functions, tests_function
from coursetools.errors import GradingError
from coursetools.outcome import Mistake, Problem

#: The metadata key that marks the grader's cells.
CELL_KEY = "coursetools_answers"
#: The line print_answers writes before its JSON (readonly.checking.ANSWERS).
ANSWERS = "coursetools-answers: "
def plan(source):
    """{'module': checks module, 'functions': {function: grade_id of its last test cell}} of a source notebook.

    source: the instructor's notebook (nbformat).  A function is checked when a test cell of it
    (grade_id "test_<function>...") declares a checks module in its metadata (declared_checks);
    its grader's cell goes after the last such cell.  Empty when no cell declares one: the
    notebook is then graded as stock nbgrader grades it.  A GradingError when cells declare two
    different modules.
    """
    functions = graded_functions(source)
    last, modules = {}, set()
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        module = declared_checks(cell)
        if module:
            with contextlib.suppress(ValueError):
                last[function_of(grade_id, functions)] = grade_id
                modules.add(module)
    if len(modules) > 1:
        raise GradingError(f"the notebook's test cells declare {len(modules)} checks modules "
                           f"({', '.join(sorted(modules))}); one notebook may have one")
    return {"module": modules.pop(), "functions": last} if modules else {}


def add_cells(nb, answer_plan):
    """Put the grader's cells into nb after each planned function's last test cell (at the end if it is gone).

    answer_plan: plan() plus 'cases', {function: cases} from the checks module's grader_cases.
    Returns {function: cases} of the cells added.
    """
    module, cases = answer_plan["module"], answer_plan["cases"]
    where = {}
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id") if cell.cell_type == "code" else None
        for function, last in answer_plan["functions"].items():
            if grade_id == last:
                where[function] = index
    added = {}
    planned = [f for f in answer_plan["functions"] if f in cases]
    for function in sorted(planned, key=lambda f: -where.get(f, len(nb.cells))):
        source = (f"import importlib as _grader_importlib\n_grader_importlib.import_module('readonly.checking')"
                  f".print_answers(globals(), {module!r}, {function!r}, {json.dumps(cases[function])})")
        nb.cells.insert(where.get(function, len(nb.cells) - 1) + 1, new_code_cell(source, metadata={CELL_KEY: function}))
        added[function] = cases[function]
    return added


def take_cells(nb, added):
    """Remove the grader's cells from nb; return {function: [cases, answers or None]} they reported."""
    found = {}
    for cell in [c for c in nb.cells if CELL_KEY in c.metadata]:
        function = cell.metadata[CELL_KEY]
        text = "".join(o.get("text", "") for o in cell.get("outputs", ()) if o.get("output_type") == "stream")
        lines = [line for line in text.splitlines() if line.startswith(ANSWERS)]
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            report = json.loads(lines[-1][len(ANSWERS):]) if lines else {}
            if report.get("function") == function and isinstance(report.get("answers"), list):
                found[function] = report["answers"]
        nb.cells.remove(cell)
    return {function: [cases, found.get(function)] for function, cases in added.items()}


class AddGraderCells(NbGraderPreprocessor):
    """The step before execution: the grader's cells go in (add_cells); resources["coursetools"]["added"] says which."""

    answer_plans = Dict(help="{notebook name: plan() of its source, plus 'cases': {function: cases} drawn for "
                             "this submission}; a notebook not named gets no cells").tag(config=True)

    def preprocess(self, nb, resources):
        found = resources.setdefault("coursetools", {})
        answer_plan = self.answer_plans.get(resources.get("unique_key"))
        found["added"] = add_cells(nb, answer_plan) if answer_plan else {}
        return nb, resources


class TakeGraderCells(NbGraderPreprocessor):
    """The step after execution: the grader's cells come out; resources["coursetools"]["answers"] is take_cells'."""

    def preprocess(self, nb, resources):
        found = resources.setdefault("coursetools", {})
        found["answers"] = take_cells(nb, found.get("added", {}))
        return nb, resources


@contextlib.contextmanager
def checks_from(folder, module):
    """Import the checks module from folder (the instructor's files), not from wherever `readonly` is installed.

    The grading process judges one submission at a time, so the `readonly` package is swapped
    in sys.modules for the time of the block and put back after it.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "readonly"}
    sys.path.insert(0, str(folder))
    try:
        checks, interface = importlib.import_module(module), importlib.import_module("readonly.interface")
        lacks = interface.missing(checks)  # of the functions of interface.ChecksModule
        if lacks:
            raise GradingError(f"the checks module {module} lacks {', '.join(lacks)}: a checks module provides "
                               f"{', '.join(interface.FUNCTIONS)} (readonly/interface.py)")
        yield checks
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.split(".")[0] == "readonly"]:
            del sys.modules[name]
        sys.modules.update(saved)


def cross_check(notebooks, got, mistakes):
    """Take back the points of every function whose own tests all passed but whose answers are wrong.

    Only where every test cell of a function passed: where one failed, the tests ran and judged the
    function, and its points (a visible test passed by a function wrong for other sizes) are stock
    nbgrader's; a notebook that silences its tests makes them all pass.

    notebooks: {notebook: NotebookGrades}, changed in place; got: {function: [cases, answers]}
    from take_cells; mistakes: {function: Mistake} of the functions whose answers judging rejected;
    a function whose points are taken back because its answers never came is added to it as
    "<function>/no-answer".  Returns the Problems to add to the outcome.
    """
    reasons = {}
    for function, (cases, answers) in sorted(got.items()):
        cells = [(notebook, grade_id) for notebook, data in notebooks.items() for grade_id in data.grades
                 if tests_function(grade_id, function)]
        if not cells or not all((notebooks[n].grades[g][0] or 0) > 0 for n, g in cells):
            continue  # a test of it failed: the tests judged it themselves, and stock scoring stands
        if not isinstance(answers, list) or len(answers) != len(cases):
            mistakes[function] = Mistake(f"{function}/no-answer", f"{function}: the grader's call of it did not "
                                         "report back (the notebook stopped it, or changed it).")
        if function in mistakes:
            for notebook, grade_id in cells:
                notebooks[notebook].grades[grade_id][0] = 0.0
            reasons.setdefault(mistakes[function].id, []).append(function)
    return [Problem("tampered", f"{', '.join(functions)}: the tests passed in the notebook, but the grader's own "
                    f"call of {'it' if len(functions) == 1 else 'them'} found {why}: 0 points (tests tampered with?)")
            for why, functions in reasons.items()]
