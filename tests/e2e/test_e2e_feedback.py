"""The feedback page a learner fetches, opened in Chromium with the network off.

One submission of the sample class (J_b1 with keepdims=True dropped), collected as nbgrader collect
leaves it (timestamp.txt, submission_secret.txt), graded by `python -m coursetools grade` in the
sandbox, its feedback written by stock `nbgrader generate_feedback` and released to an exchange by
`nbgrader release_feedback`: the released page asks for nothing but itself, draws every formula
(MathML, coursetools/offline_math.py), shows no sandbox noise and no grader folders, and each
failing test's message once.  Screenshots: screenshots/feedback-offline-{math,message}.png.
"""
import datetime
import sys

import pytest
from jupyter_browser import RAW_LATEX, SCREENSHOTS, offline_page

from coursetools.course import nbgrader
from coursetools.sample_class import CLASS, stamp_as_collected, write_submission

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]

STUDENT, MESSAGE = "J_b1-keepdims-dropped", "keepdims=True dropped"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The feedback page of STUDENT, as release_feedback put it in the exchange."""
    sys.path.insert(0, str(SCREENSHOTS.parent / "tests"))
    from conftest import copy_course
    from grading_runs import run_grader

    course = copy_course(tmp_path_factory.mktemp("course"))
    # backprop into a new gradebook (the committed release/ stays: it is generated into a scratch folder)
    scratch = tmp_path_factory.mktemp("scratch")
    nbgrader(course, "generate_assignment", "backprop", f"--CourseDirectory.release_directory={scratch}")
    case = next(case for case in CLASS["backprop"] if case.student == STUDENT)
    stamp_as_collected(write_submission(course, case), datetime.datetime.now(datetime.timezone.utc))
    done = run_grader(course, "--assignment", "backprop", "--jobs", "1", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    nbgrader(course, "generate_feedback", "backprop")
    exchange = tmp_path_factory.mktemp("exchange")
    nbgrader(course, "release_feedback", "backprop", f"--Exchange.root={exchange}")
    pages = list(exchange.glob("*/feedback/*.html"))
    assert len(pages) == 1, pages
    return pages[0]


def test_the_released_feedback_page_reads_well_offline(released):
    with offline_page(released, (1100, 800)) as (page, requested):
        text = page.inner_text("body")
        formulas = page.evaluate("""() => [...document.querySelectorAll('math')].map(m => {
            const box = m.getBoundingClientRect();
            return box.width > 0 && box.height > 0; })""")
        markdown = page.evaluate("() => [...document.querySelectorAll('.text_cell_render')].map(c => c.innerText)")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.locator("math[display=block]").nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "feedback-offline-math.png"))
        page.get_by_text(MESSAGE).first.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "feedback-offline-message.png"))
    assert all(url.startswith(("file:", "data:")) for url in requested), requested
    assert len(formulas) > 50 and all(formulas), f"{formulas.count(False)} of {len(formulas)} formulas not drawn"
    raw = [cell[:80] for cell in markdown if RAW_LATEX.search(cell) or "$" in cell]
    assert raw == [], raw
    assert "Fontconfig" not in text and "/tmp/" not in text and "dask-scratch" not in text
    # Once in the visible test's output, once in the hidden test's: no traceback repeats it.
    assert text.count(MESSAGE) == 2 and "most recent call last" not in text
