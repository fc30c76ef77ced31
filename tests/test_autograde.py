"""Real `nbgrader autograde` on the corpus (tests/corpus.py), scores read back through the gradebook.

Each case says what each function must score, exactly.
"""
import pytest
from conftest import REPO, copy_course

from coursetools.course import assignments, function_scores, nbgrader, release
from corpus import corpus

from coursetools.sample_class import CLASS, functions_of, write_submission

CASES = [case for _, case in corpus()]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A scratch course with every sample case autograded; returns {assignment: scores}."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    release(course)
    scores = {}
    for assignment in assignments(course):
        for case in CASES:
            if case.assignment == assignment.name:
                write_submission(course, case)
        # Stock nbgrader exits non-zero when a kernel dies (trick-exits-the-kernel), after grading the rest.
        nbgrader(course, "autograde", assignment.name, "--force", check=False)
        scores[assignment.name] = function_scores(course, assignment)
    return scores


def test_every_assignment_has_a_sample_class_and_20_corpus_cases():
    assert sorted(CLASS) == sorted(a.name for a in assignments(REPO))
    for assignment in assignments(REPO):
        assert sum(case.assignment == assignment.name for case in CASES) >= 20


def test_student_ids_are_unique_per_assignment():
    ids = [(case.assignment, case.student) for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.assignment}/{c.student}")
def test_case_scores_exactly_as_expected(graded, case):
    functions = functions_of(REPO, case.assignment)
    got = graded[case.assignment][case.student]
    assert list(got) == functions
    expected = case.expected({function: maximum for function, (_, maximum) in got.items()})
    assert all(maximum > 0 for _, maximum in got.values())
    assert {function: score for function, (score, _) in got.items()} == expected
