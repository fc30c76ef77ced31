"""Real `nbgrader autograde` on the corpus (tests/corpus.py), scores read back through the gradebook.

Each case says what each function must score, exactly.
"""
import html
import re

import pytest
from conftest import REPO, copy_course

from corpus import corpus

from coursetools.course import assignments, function_scores, nbgrader, release
from coursetools.sample_class import CLASS, functions_of, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CASES = [case for _, case in corpus()]


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A scratch course with every corpus case autograded."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    release(course)
    for assignment in assignments(course):
        for case in CASES:
            if case.assignment == assignment.name:
                write_submission(course, case)
        # Stock nbgrader exits non-zero when a kernel dies (trick-exits-the-kernel), after grading the rest.
        nbgrader(course, "autograde", assignment.name, "--force", check=False)
    return course


@pytest.fixture(scope="module")
def graded(graded_course):
    """{assignment: {student: {function: (score, max)}}} from the gradebook."""
    return {a.name: function_scores(graded_course, a) for a in assignments(graded_course)}


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


def test_feedback_puts_the_message_first_and_withholds_hidden_test_code(graded_course):
    student = "J_b1-keepdims-dropped"
    nbgrader(graded_course, "generate_feedback", "backprop", "--student", student, "--force")
    page = (graded_course / "feedback" / student / "backprop" / "1-Backpropagation.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    visible = text.index("keepdims=True dropped")
    assert visible < text.index("Where it happened", visible)
    assert "The code of the hidden tests is withheld" in text
    hidden_case = "(6, 7, 37, 41)"  # a case of J_b1's hidden test, in source/ only
    assert hidden_case in (REPO / "source/backprop/1-Backpropagation.ipynb").read_text()
    assert hidden_case not in text
