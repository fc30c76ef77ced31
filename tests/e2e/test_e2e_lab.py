"""The learner's experience in JupyterLab, in a real browser (Debian's Chromium).

For each assignment: the notebook with every solution filled in runs to the
spec's numbers with its math typeset and every figure shown; the notebook as
handed out stops at its first test with the message that teaches what to do.
Screenshots of the figures go to screenshots/ (git-ignored).
"""
import pytest
from jupyter_browser import REPO, browser, jupyter, page, run_solved, run_untouched, workdir  # noqa: F401

from coursetools.course import assignments


@pytest.fixture(scope="module")
def lab(workdir):
    with jupyter("lab", workdir) as server:
        yield server


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_full_solution_runs_all_in_lab(lab, page, assignment):
    saved = run_solved(page, lab, assignment, f"lab-{assignment.name}-figure")
    assert all(path.stat().st_size > 1000 for path in saved)


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_untouched_notebook_stops_at_first_test_in_lab(lab, page, assignment):
    run_untouched(page, lab, assignment, f"lab-{assignment.name}-untouched")
