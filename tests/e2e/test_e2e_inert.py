"""A student's hostile output in the instructor's pages, in Chromium: it runs as given, and not once made inert.

A small course (one assignment `ps1`, one notebook, made with `nbgrader generate_assignment`)
gets a submission of student `mallory` whose autograded notebook shows what a hostile kernel can
display: the reported `display(HTML("<img src=x onerror=...>"))` (it sets document.title to
PWNED-<cookie length>), a markdown output, an image whose width smuggles a handler in,
JavaScript (it runs in the formgrader, which loads jQuery, and fails in the feedback page, which
does not), a markdown cell with raw HTML and a javascript: link (clicked).  Each hook, when it
runs, records its name in window.__fired.  Two pages show it, as an instructor sees them:

- the formgrader's "Manual Grading" page of the submission, served by nbgrader's own server
  extension in `jupyter lab` (the /formgrader/submissions/<id>/ page, rendered from autograded/);
- the feedback page written by `nbgrader generate_feedback`, opened from its file.

With the notebook as nbgrader wrote it, the hooks run (the control: the test can fail); after
`inert_bytes`, as the grader's worker applies it, none does and the title stays the page's own.
"""
import os
import subprocess
import warnings
from unittest import mock

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from jupyter_browser import VENV_BIN, chromium, jupyter, require_chromium

from coursetools.grading.inert import inert_bytes

pytestmark = pytest.mark.e2e

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
PATH = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
REPORTED = "<img src=x onerror=\"document.title='PWNED-'+document.cookie.length\">"


def fire(name):
    """JavaScript that records name in window.__fired (no spaces: it must fit an unquoted attribute)."""
    return f"(window.__fired=window.__fired||[]).push('{name}')"


#: The hooks that must run in the page of the notebook as given: formgrader, feedback.
EXPECTED = {"formgrader": {"html", "markdown-output", "png-width", "javascript", "markdown-cell", "link"},
            "feedback": {"html", "markdown-output", "png-width", "markdown-cell", "link"}}


def hostile_outputs():
    return [
        new_output("display_data", data={"text/html": REPORTED}),
        new_output("display_data", data={"text/html": f'<b>hi</b><img src=x onerror="{fire("html")}">'}),
        new_output("display_data", data={"text/markdown": f'*md* <img src=x onerror="{fire("markdown-output")}">'}),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                   metadata={"image/png": {"width": f"2 onload={fire('png-width')}"}}),
        new_output("display_data", data={"application/javascript": fire("javascript")}),
        new_output("stream", name="stdout", text=f'<img src=x onerror="{fire("stream")}">'),
    ]


def submission_notebook(release):
    """The release notebook as autograde would write it after the hostile kernel ran."""
    nb = nbformat.read(release, as_version=4)
    solution = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    solution.execution_count, solution.outputs = 1, hostile_outputs()
    nb.cells.append(new_markdown_cell(f'My answer <img src=x onerror="{fire("markdown-cell")}"> '
                                      f"and [a link](javascript:{fire('link')})"))
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """{"root", "submission_id", "autograded", "raw"}: a course with mallory's autograded ps1."""
    require_chromium()
    root = tmp_path_factory.mktemp("inert-course")
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "inert-e2e"\n')
    source = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}})
    source.cells = [
        new_markdown_cell("Write `double`."),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                                             "grade_id": "double", "schema_version": 3}}),
        new_code_cell("assert double(2) == 4",
                      metadata={"nbgrader": {"solution": False, "grade": True, "locked": True, "points": 1,
                                             "grade_id": "test_double", "schema_version": 3}}),
    ]
    (root / "source" / "ps1").mkdir(parents=True)
    nbformat.write(source, root / "source" / "ps1" / "nb.ipynb")
    nbgrader(root, "generate_assignment", "ps1", "--force")
    from nbgrader.api import Gradebook

    with mock.patch.dict(os.environ, PATH=PATH), warnings.catch_warnings(), \
            Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # nbgrader runs alembic from PATH
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush note on a new submission
        gradebook.update_or_create_student("mallory")
        gradebook.add_submission("ps1", "mallory")
        submission_id = gradebook.find_submission_notebook("nb", "ps1", "mallory").id
    autograded = root / "autograded" / "mallory" / "ps1" / "nb.ipynb"
    autograded.parent.mkdir(parents=True)
    raw = nbformat.writes(submission_notebook(root / "release" / "ps1" / "nb.ipynb")).encode()
    return {"root": root, "submission_id": submission_id, "autograded": autograded, "raw": raw}


def nbgrader(root, *arguments):
    done = subprocess.run([str(VENV_BIN / "nbgrader"), *arguments], cwd=root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PATH": PATH})
    assert done.returncode == 0, f"nbgrader {' '.join(arguments)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def server(course):
    with jupyter("lab", course["root"]) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with chromium() as context:  # nothing leaves this machine: only the local server and files load
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("http://127.0.0.1", "file:", "data:")) else route.abort())
        yield context


def visit(browser, url, click_links=False):
    """Open url, wait a second for the hooks, optionally click every javascript: link.

    Returns (title, the hooks that ran, how many javascript: links, the text of the page).
    """
    page = browser.new_page()
    try:
        page.goto(url, wait_until="load", timeout=90_000)
        page.wait_for_timeout(1000)
        if click_links:
            for link in page.locator('a[href^="javascript:"]').all():
                link.click(timeout=5000)
            page.wait_for_timeout(300)
        return page.title(), set(page.evaluate("() => window.__fired || []")), \
            page.locator('a[href^="javascript:"]').count(), page.inner_text("body")
    finally:
        page.close()


def show(view, course, server, browser, inert):
    """Write mallory's autograded notebook (made inert or not), open the view's page; what visit returns."""
    course["autograded"].write_bytes(inert_bytes(course["raw"]) if inert else course["raw"])
    if view == "formgrader":
        return visit(browser, server.url(f"/formgrader/submissions/{course['submission_id']}/"), click_links=True)
    nbgrader(course["root"], "generate_feedback", "ps1", "--force")
    return visit(browser, (course["root"] / "feedback" / "mallory" / "ps1" / "nb.html").as_uri(), click_links=True)


@pytest.mark.parametrize("view", ["formgrader", "feedback"])
def test_the_hostile_output_runs_in_the_page_as_nbgrader_wrote_it(view, course, server, browser):
    title, fired, links, _ = show(view, course, server, browser, inert=False)
    assert title.startswith("PWNED-"), f"{view}: the reported payload did not run; title {title!r}"
    assert EXPECTED[view] <= fired, f"{view}: hooks that ran: {sorted(fired)}"
    assert "stream" not in fired and links == 1


@pytest.mark.parametrize("view", ["formgrader", "feedback"])
def test_nothing_runs_once_the_notebook_is_inert(view, course, server, browser):
    title, fired, links, text = show(view, course, server, browser, inert=True)
    assert "PWNED" not in title and title == "nb", f"{view}: title {title!r}"
    assert fired == set() and links == 0, f"{view}: hooks that ran: {sorted(fired)}, javascript: links: {links}"
    assert "[text/html output removed by the grader" in text and "This markdown held HTML" in text
    assert '<img src=x onerror="' in text  # the stream, as text
