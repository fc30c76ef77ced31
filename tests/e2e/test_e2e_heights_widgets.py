"""The heights notebook's optional sliders, in a real browser: JupyterLab 4 and Notebook 7.

The full solution runs all; then, under the `heights.explore(...)` cell, two
sliders and a figure must show, and setting the mean's slider (through its
readout, as a learner may type a value) must redraw the figure.  A screenshot
of the cell goes to screenshots/.  The sliders are never needed to pass, so
these tests are about the learner's experience only.
"""
from pathlib import Path

import nbformat
import pytest
from jupyter_browser import (REPO, SCREENSHOTS, SOLVED, browser, cells_shown, jupyter, open_notebook,  # noqa: F401
                             page, run_all, workdir, workspace_url)

from coursetools.course import find

pytestmark = pytest.mark.e2e

#: Seconds for the widget to render and to redraw after a change.
RENDER = 60


def explore_cell(notebook):
    """The index of the cell that calls heights.explore."""
    found = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "heights.explore(" in c.source]
    assert len(found) == 1, f"expected one heights.explore cell, found {found}"
    return found[0]


def image_source(cell):
    """The src of the loaded, drawn figure under the cell, or '' while there is none."""
    return cell.evaluate("""cell => {
        const img = [...cell.querySelectorAll('.jp-OutputArea-output img')]
            .find(i => i.complete && i.naturalWidth > 100);
        return img ? img.src : '';
    }""")


def wait_for(page, condition, what):
    """Poll condition() every half second for RENDER seconds; return its value or fail saying what."""
    for _ in range(2 * RENDER):
        value = condition()
        if value:
            return value
        page.wait_for_timeout(500)
    raise AssertionError(f"after {RENDER} s: {what}")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_sliders_redraw_the_fit(workdir, page, app):
    assignment = find("heights", REPO)
    path = f"{SOLVED}/{assignment.notebook}"
    notebook = nbformat.read(Path(workdir) / path, as_version=4)
    index = explore_cell(notebook)
    with jupyter(app, workdir) as server:
        open_notebook(page, workspace_url(server, path), len(notebook.cells))
        run_all(page)
        shown = cells_shown(page)
        assert not shown[index]["errors"], shown[index]["errors"]
        cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.scroll_into_view_if_needed(timeout=10_000)
        sliders = cell.locator(".widget-slider")
        wait_for(page, lambda: sliders.count() == 2, "two sliders under the explore cell")
        labels = cell.locator(".widget-label").all_text_contents()
        assert any("μ" in text and "cm" in text for text in labels), labels
        before = wait_for(page, lambda: image_source(cell), "a figure under the sliders")
        readout = sliders.first.locator(".widget-readout")
        assert readout.text_content().strip() == "155.00"
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("180")
        page.keyboard.press("Enter")
        wait_for(page, lambda: readout.text_content().strip() == "180.00", "the mean's readout to show 180.00")
        after = wait_for(page, lambda: (image_source(cell) or before) != before and image_source(cell),
                         "the figure to be redrawn after the mean moved to 180 cm")
        assert after != before
        SCREENSHOTS.mkdir(exist_ok=True)
        cell.locator(".jp-OutputArea").first.screenshot(path=SCREENSHOTS / f"{app}-heights-widgets.png",
                                                        timeout=30_000)
