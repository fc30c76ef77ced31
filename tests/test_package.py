"""`pip install .` gives a grading worker everything it needs: no checkout, no PYTHONPATH to the course."""
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, copy_course

from coursetools.course import find, release, settings
from coursetools.grading.assignment import bundle
from coursetools.grading.intake import read_submission
from coursetools.gradebook import open_gradebook
from coursetools.sample_class import CLASS, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

#: Grades one pickled (bundle, task) with the installed coursetools, in the sandbox, as a worker does.
WORKER = textwrap.dedent("""
    import os, pickle, sys, tempfile
    import coursetools
    from coursetools import sandbox
    from coursetools.grading.kernel import probe_sandbox, claim_slot
    from coursetools.grading.submission import grade_submission
    assert not coursetools.__file__.startswith(os.path.join(sys.argv[2], '')), coursetools.__file__
    bundle, task = pickle.load(open(sys.argv[1], "rb"))
    work = tempfile.mkdtemp()
    slot, holder = claim_slot()
    launcher = ["--home-template", str(probe_sandbox(work)), "--slot", str(slot)]
    graded = grade_submission(bundle, task, {"sandbox": launcher, "kernel_folder": work}, work=work)
    print(coursetools.__file__)
    print(sum(score for notebook in graded.notebooks.values() for score, _ in notebook.grades.values()))
    print(graded.outcome.to_json())
""")


def test_an_installed_copy_grades_outside_the_checkout(tmp_path):
    target = tmp_path / "installed"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                           str(REPO)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (tmp_path / "course").mkdir()
    course = copy_course(tmp_path / "course")
    release(course)
    honest = next(c for c in CLASS["backprop"] if c.student == "full-solution")
    folder = write_submission(course, honest)
    course_id, db_url = settings(course)
    gradebook = open_gradebook(db_url, course_id)
    try:
        data = bundle(course, find("backprop", course).name, gradebook, course_id)
    finally:
        gradebook.close()
    read = read_submission(folder)
    task = {"student": honest.student, "fingerprint": "0" * 64, "files": read.files, "problems": []}
    (tmp_path / "task.pickle").write_bytes(pickle.dumps((data, task)))
    (tmp_path / "worker.py").write_text(WORKER)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PYTHONPATH=str(target), PYTHONSAFEPATH="1", PATH=f"{os.path.dirname(sys.executable)}:{env['PATH']}")
    done = subprocess.run([sys.executable, str(tmp_path / "worker.py"), str(tmp_path / "task.pickle"), str(REPO)],
                          cwd=outside, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    where, points, outcome = done.stdout.splitlines()[-3:]
    assert where.startswith(str(target))
    assert float(points) == 12.0, outcome
