"""`make check`: the learner's self-check runs the visible tests and fails when one does."""
import shutil

import nbformat
import pytest
from conftest import REPO

from coursetools.check import check, printed
from coursetools.course import assignments, find
from coursetools.sample_class import Case, submission

pytestmark = pytest.mark.slow  # each test runs a notebook's visible tests in a kernel


def learner_folder(tmp_path, case):
    """A learner's folder: the case's notebook with the helper modules beside it."""
    assignment = find(case.assignment, REPO)
    shutil.copytree(REPO / "readonly", tmp_path / "readonly", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / assignment.notebook
    nbformat.write(submission(REPO, case), path)
    return path


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_untouched_notebook_fails_every_function_with_the_stub_message(assignment, capsys):
    assert check(assignment.learner_copy(REPO)) == 1
    printed = capsys.readouterr().out
    assert "0 passed" in printed and printed.count("still raises NotImplementedError") >= 3


def test_full_solution_passes(tmp_path, capsys):
    assert check(learner_folder(tmp_path, Case("full", "backprop"))) == 0
    assert "4 passed, 0 failed" in capsys.readouterr().out


def test_one_mistake_fails_that_function_alone_with_its_message(tmp_path, capsys):
    case = Case("keepdims", "backprop", (("J_b2", ", keepdims=True", ""),))
    assert check(learner_folder(tmp_path, case)) == 1
    printed = capsys.readouterr().out
    assert "J_b2  FAIL" in printed and "keepdims=True dropped" in printed
    assert "3 passed, 1 failed" in printed


def test_check_leaves_the_environment_alone(tmp_path):
    import os

    check(learner_folder(tmp_path, Case("full", "backprop")))
    assert "NBGRADER_EXECUTION" not in os.environ


def test_a_shape_error_shows_the_learner_s_line_in_the_notebook_s_names(tmp_path, capsys):
    case = Case("transpose", "backprop", (("J_b2", "(J.T @ W3).T", "J.T @ W3"),))
    assert check(learner_folder(tmp_path, case)) == 1
    printed = capsys.readouterr().out
    # The error surfaces one line after the missing transpose, where J of shape (N, n2) meets z2.
    assert "J_b2  FAIL" in printed and "of your cell: J = J * d_sigma(z2)" in printed
    assert "J (20, 7) = (N, n2); z2 (7, 20) = (n2, N)" in printed and "N = 20, n1 = 6, n2 = 7" in printed


def test_every_line_of_a_failure_s_message_is_printed():
    message = ["J_b3 is not right yet.", "  expected: ...", "  got:      ...", "  likely causes:",
               *[f"    - cause {n}" for n in range(1, 7)]]
    lines = printed("1-Backpropagation.ipynb", [("J_b3", message), ("J_b2", [])])
    assert [line.strip() for line in lines[2:12]] == [line.strip() for line in message]
    assert "J_b2" in lines[12] and "pass" in lines[12] and lines[13] == "1 passed, 1 failed"
