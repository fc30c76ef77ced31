"""The same notebooks open and run in Notebook 7 (`jupyter notebook`, /notebooks/<path>), in its dark theme.

The dark theme here and the light one in test_e2e_lab.py give screenshots of
the figures on both backgrounds.  As in JupyterLab, a failing test shows its
message alone (J_b3's, of a notebook with one mistake).
"""
import pytest
from jupyter_browser import REPO, SCREENSHOTS, browser, jupyter, page, run_mistaken, run_solved, workdir  # noqa: F401

from coursetools.course import assignments

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def notebook7(workdir):
    with jupyter("notebook", workdir, theme="JupyterLab Dark") as server:
        yield server


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_full_solution_runs_all_in_notebook7(notebook7, page, assignment):
    """As in JupyterLab; backprop's training figure must change at least three times while it trains."""
    run_solved(page, notebook7, assignment, f"notebook7-dark-{assignment.name}-figure",
               live_changes=3 if assignment.name == "backprop" else 0)


def test_a_failing_test_shows_its_message_alone_in_notebook7(notebook7, page):
    run_mistaken(page, notebook7, SCREENSHOTS / "notebook7-dark-failing-test.png")
