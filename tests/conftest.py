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


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory):
    """The whole corpus (tests/corpus.py) graded once by `python -m coursetools grade --jobs 2` into SQLite.

    Grading it takes minutes, so the modules that need a class graded locally share this one (test_report,
    test_grade, test_cluster).  They only read it, or run the grader again, which grades nothing again.
    """
    from corpus import corpus
    from grading_runs import run_grader

    from coursetools.course import release
    from coursetools.sample_class import write_submission

    course = copy_course(tmp_path_factory.mktemp("corpus"))
    release(course)
    for _, case in corpus():
        write_submission(course, case)
    done = run_grader(course, "--jobs", "2", timeout=1500)
    assert done.returncode == 0, done.stdout + done.stderr
    return course


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# Tiers are marked in each test module (`pytestmark`): `slow` (starts real services or runs many
# notebooks), `sandbox` (needs bubblewrap), `e2e` (a browser).  `pytest -m "not slow and not e2e"` is the
# quick run.  A module left unmarked is quick.
