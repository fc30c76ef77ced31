"""The learner's experience in JupyterLab, in a real browser (Debian's Chromium).

For each assignment: the notebook with every solution filled in runs to the
spec's numbers with its math typeset and every figure shown, and backprop's
training figure changes at least three times while it trains (each new frame
screenshotted); the notebook as handed out stops at its first test with the
message that teaches what to do, alone (no frames of the checks above it), as
a failing test with a recognised mistake does. Screenshots of the figures go to screenshots/
(git-ignored).
"""
import pytest
from jupyter_browser import (LEARNER_CONFIG, REPO, SCREENSHOTS, browser, instructor_tools_shown,  # noqa: F401
                             jupyter, page, run_mistaken, run_solved, run_untouched, workdir)

from coursetools.course import assignments

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab(workdir):
    """JupyterLab as `make lab` starts it for learners: with jupyter-learner/ on JUPYTER_CONFIG_PATH."""
    with jupyter("lab", workdir, config_path=LEARNER_CONFIG) as server:
        yield server


#: Backprop's training figure is redrawn while it trains: Run All must see it change this many times.
LIVE_CHANGES = {"backprop": 3}


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_full_solution_runs_all_in_lab(lab, page, assignment):
    saved = run_solved(page, lab, assignment, f"lab-{assignment.name}-figure",
                       live_changes=LIVE_CHANGES.get(assignment.name, 0))
    assert all(path.stat().st_size > 1000 for path in saved)
    if assignment.name in LIVE_CHANGES:
        assert len([path for path in saved if "-live-" in path.name]) >= LIVE_CHANGES[assignment.name]


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_untouched_notebook_stops_at_first_test_in_lab(lab, page, assignment):
    run_untouched(page, lab, assignment, f"lab-{assignment.name}-untouched")


def test_a_failing_test_shows_its_message_alone_in_lab(lab, page):
    run_mistaken(page, lab, SCREENSHOTS / "lab-failing-test.png")


def test_learners_jupyterlab_has_none_of_nbgrader_s_instructor_tools(lab, page):
    assert instructor_tools_shown(page, lab) == {"menu": [], "create panel": False, "formgrader": 404}
