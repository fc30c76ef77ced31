"""The table of the corpus for docs/corpus.md: `make corpus-table` writes it, a test checks it."""
import sys
from pathlib import Path

import nbformat

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from corpus import corpus  # noqa: E402

from coursetools.course import REPO, find, function_of, graded_functions  # noqa: E402

HEADER = """# The grading corpus

Every submission that `tests/test_report.py` grades with `python -m coursetools grade` (real nbgrader, sandboxed),
and the points each function must score (out of 3: a visible test worth 1, a hidden test worth 2).
Written by `make corpus-table` from `tests/corpus.py`; a test fails when it is out of date.
Kinds: *mistake*, a wrong answer learners write; *right*, a correct answer in another form;
*trick*, an attempt to fool the tests; *breakage*, a broken notebook.
"""


def maxima(assignment):
    """{function: max points} from the master notebook's test cells."""
    notebook = nbformat.read(find(assignment, REPO).source(REPO), as_version=4)
    functions = graded_functions(notebook)
    points = dict.fromkeys(functions, 0.0)
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade") and cell.cell_type == "code":
            points[function_of(grading["grade_id"], functions)] += grading["points"]
    return points


def describe(case):
    """What the case tests, in words."""
    if case.untouched:
        return "the release as handed out, nothing filled in"
    if not case.edits:
        return "the full solution"
    return case.note or case.student.replace("-", " ").replace("_ ", "_")


def table():
    cases = corpus()
    lines = [HEADER]
    for assignment in sorted({case.assignment for _, case in cases}):
        top = maxima(assignment)
        lines += [f"## {assignment}", "",
                  "| case | kind | what it tests | " + " | ".join(top) + " |",
                  "|---|---|---|" + "---|" * len(top)]
        for kind, case in cases:
            if case.assignment == assignment:
                points = case.expected(top)
                lines.append(f"| `{case.student}` | {kind} | {describe(case)} | "
                             + " | ".join(f"{points[f]:g}" for f in top) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(), end="")
