"""The corpus (tests/corpus.py) itself: enough cases of every assignment, one id each.

What each case must score is checked where the corpus is graded, by `python -m coursetools
grade`, in tests/test_report.py; stock `nbgrader autograde` is compared with it cell by cell on
the sample class in tests/test_grade.py, and runs in the sandbox in tests/test_stock_sandboxed.py.
"""
from corpus import corpus

from coursetools.course import REPO, assignments
from coursetools.sample_class import CLASS

CASES = [case for _, case in corpus()]


def test_every_assignment_has_a_sample_class_and_20_corpus_cases():
    assert sorted(CLASS) == sorted(a.name for a in assignments(REPO))
    for assignment in assignments(REPO):
        assert sum(case.assignment == assignment.name for case in CASES) >= 20


def test_student_ids_are_unique_per_assignment():
    ids = [(case.assignment, case.student) for case in CASES]
    assert len(ids) == len(set(ids))
