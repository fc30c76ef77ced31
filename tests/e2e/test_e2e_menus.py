"""Learners' JupyterLab has none of nbgrader's instructor tools; the instructor's keeps them, in Chromium.

`make lab` puts jupyter-learner/ on JUPYTER_CONFIG_PATH: its Nbgrader menu holds the Assignment
List alone, the right side bar has no Create Assignment panel, and the server has no Formgrader.
The instructor's JupyterLab (`make instructor-lab`: no such folder) has all three.
"""
import subprocess
import urllib.error
import urllib.request

import pytest
from jupyter_browser import LEARNER_CONFIG, REPO, browser, jupyter, page, workdir  # noqa: F401

pytestmark = pytest.mark.e2e

INSTRUCTOR_ITEMS = {"Course List", "Formgrader", "Create assignment"}


def tools_shown(page, server):
    """(the Nbgrader menu's items, the side bars' tab titles, the HTTP status of /formgrader)."""
    page.goto(server.url("/lab"), wait_until="domcontentloaded")
    menu = page.locator(".lm-MenuBar-item", has_text="Nbgrader").first
    menu.wait_for(timeout=60_000)
    tabs = page.evaluate("() => [...document.querySelectorAll('.lm-TabBar-tab')].map(t => t.textContent"
                         " + ' ' + (t.getAttribute('title') || ''))")
    menu.click()
    items = {item.text_content().strip() for item in page.locator(".lm-Menu-item:visible").all()}
    page.keyboard.press("Escape")
    try:
        with urllib.request.urlopen(server.url("/formgrader"), timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return items, tabs, status


@pytest.mark.parametrize("who", ["learner", "instructor"])
def test_only_the_instructor_s_jupyterlab_has_nbgrader_s_instructor_tools(workdir, page, who):
    with jupyter("lab", workdir, config_path=LEARNER_CONFIG if who == "learner" else None) as server:
        items, tabs, status = tools_shown(page, server)
    create_panel = any("Create Assignment" in tab for tab in tabs)
    if who == "learner":
        assert items == {"Assignment List"}, items
        assert not create_panel and status == 404, (tabs, status)
    else:
        assert items >= INSTRUCTOR_ITEMS | {"Assignment List"}, items
        assert create_panel and status == 200, (tabs, status)


def test_make_lab_reads_the_learner_settings_and_make_instructor_lab_does_not():
    def command(target):
        done = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f'JUPYTER_CONFIG_PATH="{LEARNER_CONFIG}' in command("lab")
    assert "jupyter lab" in command("instructor-lab") and "JUPYTER_CONFIG_PATH" not in command("instructor-lab")
