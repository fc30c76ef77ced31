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


# Tiers are marked in each test module (`pytestmark`): `slow` (starts real services or runs many
# notebooks), `sandbox` (needs bubblewrap), `e2e` (a browser).  `pytest -m "not slow and not e2e"` is the
# quick run.  A module left unmarked is quick.
