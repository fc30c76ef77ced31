"""The grade of a mutant: the points the assignment's own tests and the grader's own call give it.

Without a kernel, in this process: the mutant's cell is run in a copy of the notebook's namespace
(coursetools.audit.notebook), then every test cell of the source notebook, visible and hidden,
in notebook order, each scoring its points when it raises nothing and writes nothing to stderr
(nbgrader's rule).  Then, for each seed, the grader's own call as `make grade` makes it: the checks
module's grader_cases(seed), readonly.checking.print_answers in the namespace, the answers judged by
coursetools.grading.diagnoses.diagnose and points taken back by coursetools.grading.answers.cross_check:
the same code the grader runs, only not in a sandboxed kernel.
"""
import contextlib
import importlib
import io
import json

from coursetools.grading.answers import ANSWERS, cross_check
from coursetools.grading.diagnoses import diagnose
from coursetools.audit.notebook import run_cell
from coursetools.outcome import NotebookGrades


def test_cells(subject, space):
    """{grade_id: points} of each test cell run in space (a namespace holding the mutant), notebook order."""
    scores = {}
    for test in subject.tests:
        error, _, err = run_cell(test.source, space, f"<{test.grade_id}>")
        scores[test.grade_id] = test.points if error is None and not err else 0.0
    return scores


def _answers(space, module, function, cases):
    """What print_answers reports for function on cases, as the grader reads it (take_cells), or None."""
    checking = importlib.import_module("readonly.checking")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            checking.print_answers(space, module, function, cases)
        except Exception:  # the grader's cell failed: no answers came back
            return None
    lines = [line for line in out.getvalue().splitlines() if line.startswith(ANSWERS)]
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        report = json.loads(lines[-1][len(ANSWERS):]) if lines else {}
        if report.get("function") == function and isinstance(report.get("answers"), list):
            return report["answers"]
    return None


def grader_call(subject, space, scores, seed):
    """{grade_id: points} after the grader's own call under seed: scores (test_cells') with points taken back.

    Also returns {function: mistake id} of the functions whose answers the grader judged wrong.  Only the
    functions all of whose tests passed are asked (`make grade` asks all, and takes points back from these only).
    """
    if not subject.module:
        return dict(scores), {}
    checks = importlib.import_module(subject.module)
    cases = checks.grader_cases(seed)
    passed = {test.function for test in subject.tests} - {test.function for test in subject.tests
                                                            if not scores.get(test.grade_id)}
    # cross_check takes points back only from a function all of whose tests passed: only those are asked
    got = {function: [cases[function], _answers(space, subject.module, function, cases[function])]
           for function in subject.functions if function in cases and function in passed}
    mistakes = diagnose(got, checks.judge)
    notebooks = {"notebook": NotebookGrades(grades={g: [s, False] for g, s in scores.items()})}
    cross_check(notebooks, got, mistakes)
    return {g: value[0] for g, value in notebooks["notebook"].grades.items()}, {f: m.id for f, m in mistakes.items()}


def grade(subject, space, seeds):
    """{seed: {grade_id: points}} of a namespace holding the mutant, and {seed: {function: mistake id}}."""
    scores = test_cells(subject, space)
    points, mistakes = {}, {}
    for seed in seeds:
        points[seed], mistakes[seed] = grader_call(subject, space, scores, seed)
    return points, mistakes


def per_function(subject, cells):
    """{function: points} from {grade_id: points}."""
    found = {name: 0.0 for name in subject.functions}
    for test in subject.tests:
        found[test.function] += cells.get(test.grade_id, 0.0)
    return found
