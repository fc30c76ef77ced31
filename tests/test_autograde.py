"""Real `nbgrader autograde` on the sample class, scores read back through the gradebook.

Each case says which functions it breaks: those must score 0, every other
function full marks, exactly.
"""
import pytest
from conftest import REPO, copy_course

from coursetools.course import assignments, function_scores, nbgrader, release
from coursetools.sample_class import CLASS, functions_of, write_submission

CASES = [case for name in sorted(CLASS) for case in CLASS[name]]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A scratch course with every sample case autograded; returns {assignment: scores}."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    release(course)
    scores = {}
    for assignment in assignments(course):
        for case in CLASS.get(assignment.name, ()):
            write_submission(course, case)
        nbgrader(course, "autograde", assignment.name, "--force")
        scores[assignment.name] = function_scores(course, assignment)
    return scores


def test_every_assignment_has_a_sample_class():
    assert sorted(CLASS) == sorted(a.name for a in assignments(REPO))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.assignment}/{c.student}")
def test_case_scores_exactly_as_expected(graded, case):
    functions = functions_of(REPO, case.assignment)
    got = graded[case.assignment][case.student]
    assert list(got) == functions
    expected = {
        function: (got[function][1] if full else 0.0, got[function][1])
        for function, full in case.expected(functions).items()
    }
    assert all(maximum > 0 for _, maximum in got.values())
    assert got == expected
