"""Speed of the assignments and of grading them; prints one line per measurement.

Run with `make bench`. Each number is the best (training) or the one run
(notebooks, grading) of wall-clock seconds on this machine.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
from nbclient import NotebookClient

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_course  # noqa: E402
from notebook_code import run_cells  # noqa: E402

from coursetools.course import assignments, nbgrader, release  # noqa: E402
from coursetools.sample_class import CLASS, write_submission  # noqa: E402
from readonly import backprop  # noqa: E402


def seconds(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def training():
    network = run_cells(REPO / "source/backprop/1-Backpropagation.ipynb",
                        ["imports", "network", "J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1"])
    x, y = backprop.training_data()
    times = []
    for seed in (1, 3, 4):
        network["reset_network"](random=np.random.default_rng(seed))
        took, result = seconds(lambda: backprop.plot_training(
            x, y, iterations=10000, aggression=7, noise=1, network=network, random=np.random.default_rng(seed)))
        times.append(took)
    print(f"backprop: 10,000 training steps with the picture: best {min(times):.2f} s of 3 (goal < 5 s)")


def notebook(assignment):
    path = assignment.source(REPO)
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    took, _ = seconds(client.execute)
    print(f"{assignment.name}: whole master notebook, kernel start and plots included: {took:.1f} s")


def autograde(assignment):
    with tempfile.TemporaryDirectory() as folder:
        course = copy_course(Path(folder))
        release(course)
        full = next(case for case in CLASS[assignment.name] if case.student == "full-solution")
        write_submission(course, full)
        took, _ = seconds(lambda: nbgrader(course, "autograde", assignment.name, "--force"))
        shutil.rmtree(course / "autograded")
    print(f"{assignment.name}: stock nbgrader autograde of one full solution: {took:.1f} s")


if __name__ == "__main__":
    training()
    for each in assignments(REPO):
        notebook(each)
        if each.name in CLASS:
            autograde(each)
