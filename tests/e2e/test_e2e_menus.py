"""nbgrader's instructor tools in JupyterLab: the instructor's has them, learners' has none, in Chromium.

`make lab` puts jupyter-learner/ on JUPYTER_CONFIG_PATH: its Nbgrader menu holds the Assignment
List alone, the right side bar has no Create Assignment panel, and the server has no Formgrader
(test_e2e_lab.py checks that on its learners' JupyterLab).  The instructor's JupyterLab (`make
instructor-lab`: no such folder) has all three, checked here.
"""
import subprocess

import pytest
from jupyter_browser import (INSTRUCTOR_ITEMS, LEARNER_CONFIG, REPO, browser, instructor_tools_shown,  # noqa: F401
                             jupyter, page, workdir)

pytestmark = pytest.mark.e2e

def test_the_instructor_s_jupyterlab_has_nbgrader_s_instructor_tools(workdir, page):
    with jupyter("lab", workdir) as server:
        assert instructor_tools_shown(page, server) == {"menu": INSTRUCTOR_ITEMS, "create panel": True,
                                                        "formgrader": 200}


def test_make_lab_reads_the_learner_settings_and_make_instructor_lab_does_not():
    def command(target):
        done = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f'JUPYTER_CONFIG_PATH="{LEARNER_CONFIG}' in command("lab")
    assert "jupyter lab" in command("instructor-lab") and "JUPYTER_CONFIG_PATH" not in command("instructor-lab")
