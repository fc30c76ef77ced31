"""Shared set-up: headless matplotlib, the repository on sys.path, and a scratch course."""
import shutil
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

pytest_plugins = ["services"]  # postgres_server, postgres_url, dask_cluster

COURSE_FILES = ("nbgrader_config.py", "coursetools", "readonly", "source", "release")


def copy_course(destination):
    """Copy the course files (not the gradebook or any submissions) into destination."""
    for name in COURSE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, destination / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(path, destination / name)
    return destination


@pytest.fixture
def course(tmp_path):
    """A scratch copy of the course, with no gradebook."""
    return copy_course(tmp_path)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


#: Test files that grade or run whole notebooks (minutes); the browser tests are `e2e`.
SLOW = {"test_grade.py", "test_attacks.py", "test_cluster.py", "test_autograde.py", "test_notebooks_run.py",
        "test_services.py"}
SANDBOX = {"test_grade.py", "test_attacks.py", "test_cluster.py"}


def pytest_collection_modifyitems(items):
    """Mark tests by tier, so that `pytest -m "not slow and not e2e"` is a quick run."""
    for item in items:
        name = item.path.name
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        if name in SLOW:
            item.add_marker(pytest.mark.slow)
        if name in SANDBOX:
            item.add_marker(pytest.mark.sandbox)
