"""nbgrader's instructor tools in JupyterLab: the instructor's has them, learners' has none, in Chromium.

`make lab` puts jupyter-learner/ on JUPYTER_CONFIG_PATH: its Nbgrader menu holds the Assignment
List alone, the right side bar has no Create Assignment panel, and the server has no Formgrader
(test_e2e_lab.py checks that on its learners' JupyterLab).  The instructor's JupyterLab (`make
instructor-lab`: no such folder) has all three, checked here.
"""
import subprocess
import urllib.error
import urllib.request

import pytest
from jupyter_browser import LEARNER_CONFIG, REPO, browser, jupyter, page, workdir  # noqa: F401

pytestmark = pytest.mark.e2e

INSTRUCTOR_ITEMS = ["Course List", "Create assignment", "Formgrader"]


def instructor_tools_shown(page, server):
    """What of nbgrader's instructor tools server's JupyterLab shows: the Nbgrader menu's instructor items,
    whether a side bar has the Create Assignment panel, the HTTP status of /formgrader."""
    page.goto(server.url("/lab"), wait_until="domcontentloaded")
    menu = page.locator(".lm-MenuBar-item", has_text="Nbgrader").first
    menu.wait_for(timeout=60_000)
    tabs = page.evaluate("() => [...document.querySelectorAll('.lm-TabBar-tab')].map(t => t.textContent"
                         " + ' ' + (t.getAttribute('title') || ''))")
    menu.click()
    items = {item.text_content().strip() for item in page.locator(".lm-Menu-item:visible").all()}
    page.keyboard.press("Escape")
    assert "Assignment List" in items, items  # the learners' own tool stays
    try:
        with urllib.request.urlopen(server.url("/formgrader"), timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return {"menu": sorted(items & set(INSTRUCTOR_ITEMS)),
            "create panel": any("Create Assignment" in tab for tab in tabs), "formgrader": status}


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
