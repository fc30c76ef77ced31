"""Nothing a submission does reaches the next one on the same worker (issue 20, item 4).

A worker is reused from one submission to the next (its process, its sandbox slot and user id, its
kernels' home template, its scratch folders); each kernel is new.  One worker (`--jobs 1`) grades a
submission that poisons everything it can reach, then an honest one; another run grades the
honest one alone on a fresh worker.  The honest one's grades and every output of its autograded
notebook must be the same in both runs.
"""
import json

import nbformat
import pytest
from conftest import copy_course
from grading_runs import FAST, in_front_of_J_b1, run_grader

from coursetools.course import find, function_scores, release
from coursetools.journal import read as read_journal
from coursetools.sample_class import Case, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

HONEST = Case("b-honest", "backprop")
#: Everything a notebook can reach: builtins, modules, the environment, NumPy's random state, the working
#: folder, the home and its caches, /tmp, the home template, the bytecode of the checks, a process left
#: running to strike later.  Each attempt is tried whatever the others did; J_b1 then fails on purpose.
POISON = in_front_of_J_b1("a-poisons", r'''
import builtins, os, subprocess, sys
import numpy as np
tried = []
def attempt(what, action):
    try:
        action()
        tried.append(what + ": done")
    except Exception as failed:
        tried.append(f"{what}: {type(failed).__name__}")
def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
home = os.path.expanduser("~")
payload = "import builtins\nbuiltins.abs = lambda value: 0\nbuiltins.sum = lambda *a, **k: 0\n"
for folder in (".", "readonly", home, "/tmp", home + "/.ipython/profile_default/startup", "/run/home-template",
               "/run/home-template/.ipython/profile_default/startup", home + "/.local/lib/python3.11/site-packages"):
    for name in ("sitecustomize.py", "usercustomize.py", "00-poison.py", "numpy.py"):
        attempt(f"write {folder}/{name}", lambda: write(os.path.join(folder, name), payload))
attempt("bytecode of the checks", lambda: write("readonly/__pycache__/checking.cpython-311.pyc", "poison"))
attempt("matplotlib's cache", lambda: write(home + "/.cache/matplotlib/fontlist-v390.json", "{}"))
attempt("a process left behind", lambda: subprocess.Popen(
    ["sh", "-c", "sleep 30; for d in /tmp . $HOME /run/home-template; do echo late > $d/sitecustomize.py; done"]))
os.environ["PYTHONSTARTUP"] = "/tmp/sitecustomize.py"
builtins.abs = lambda value: 0
sys.modules["readonly.checking"] = None
np.random.seed(0)
print(tried)
raise RuntimeError("poisoned what it could")''')


def graded(course, cases):
    release(course)
    for case in cases:
        write_submission(course, case)
    run = run_grader(course, "--jobs", "1", *FAST, timeout=900)
    assert run.returncode == 0, run.stderr[-5000:]
    notebook = nbformat.read(course / "autograded" / HONEST.student / "backprop" / "1-Backpropagation.ipynb",
                             as_version=4)
    outputs = [_streams_joined([{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", ())])
               for c in notebook.cells]
    return function_scores(course, find("backprop", course)), outputs, read_journal(course)


def _streams_joined(outputs):
    """outputs with each run of stream outputs of one name made one, as a notebook shows them.

    Where a printed line is cut into messages depends on when the kernel flushed its stream (a load
    on the machine made one run see "...count." and "\n" apart): not something a submission chose.
    """
    joined = []
    for output in outputs:
        if (output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                and joined[-1].get("name") == output.get("name")):
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + output["text"]}
        else:
            joined.append(output)
    return joined


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    after_poison = graded(copy_course(tmp_path_factory.mktemp("poisoned")), [POISON, HONEST])
    fresh = graded(copy_course(tmp_path_factory.mktemp("fresh")), [HONEST])
    return after_poison, fresh


def test_the_poisoner_ran_first_on_the_same_worker_and_lost_only_J_b1(runs):
    (scores, _, journal), _ = runs
    poisoner, honest = journal[("backprop", POISON.student)], journal[("backprop", HONEST.student)]
    assert poisoner.stamps["judged"] <= honest.stamps["started"]  # one worker: it was done before
    assert scores[POISON.student]["J_b1"][0] == 0
    assert all(score == top > 0 for name, (score, top) in scores[POISON.student].items() if name != "J_b1")


def test_the_honest_submission_is_graded_as_on_a_fresh_worker(runs):
    (scores, outputs, journal), (fresh_scores, fresh_outputs, fresh_journal) = runs
    assert scores[HONEST.student] == fresh_scores[HONEST.student]
    assert all(score == top > 0 for score, top in scores[HONEST.student].values())
    assert json.dumps(outputs, sort_keys=True) == json.dumps(fresh_outputs, sort_keys=True)
    assert journal[("backprop", HONEST.student)].problems == fresh_journal[("backprop", HONEST.student)].problems == []
