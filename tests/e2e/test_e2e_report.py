"""The class report in a real browser: opened from a file:// address with the network off, every figure loads.

The class is synthetic (benchmarks/report.py's: 2,000 submissions of backprop, a journal with
mistakes and problems); the report is `python -m coursetools report`.  A screenshot of the whole
page goes to screenshots/report-backprop.png.
"""
import subprocess
import sys

import pytest
from jupyter_browser import REPO, SCREENSHOTS, offline_page

sys.path.insert(0, str(REPO / "benchmarks"))
from report import ASSIGNMENT, course, fill  # noqa: E402

pytestmark = pytest.mark.e2e


def test_the_report_page_loads_offline_with_every_figure(tmp_path):
    folder = course(tmp_path / "class")
    fill(folder, 2000)
    subprocess.run([sys.executable, "-m", "coursetools", "report", "--root", str(folder)], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    page_file = folder / "reports" / ASSIGNMENT / "index.html"
    with offline_page(page_file, (1200, 900)) as (page, requested):
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({complete: e.complete, width: e.naturalWidth, alt: e.alt}))")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report-backprop.png"), full_page=True)
        heading = page.inner_text("h1")
    assert len(images) == 3 and all(image["complete"] and image["width"] > 300 for image in images), images
    assert all(url.startswith(("file:", "data:")) for url in requested), requested
    assert heading == f"What the class got wrong: {ASSIGNMENT}"
