"""A failed check shows its message alone: in the kernel's error output, in nbconvert's HTML, in the feedback.

IPython's traceback protocol (`CheckFailed._render_traceback_`) puts the message where the frames of
readonly/checking.py and the checks modules were; the output stays an error, so nbgrader's grading is
the same.  One kernel runs the test cells of this module.
"""
import shutil

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output

from coursetools.feedback import TeachingFeedback, plain

pytestmark = pytest.mark.slow  # a kernel runs the test cells

TEST_CELL = ('from readonly.checking import run_test\n'
             'run_test(globals(), "readonly.backprop_checks", "J_b3", [(6, 7, 20, 2024)], "J_b3 passes.")')
#: A learner's J_b3 whose own line raises: a shape error, in the notebook's names.
WRONG_SHAPES = ("import numpy as np\n"
                "def J_b3(x, y):\n"
                "    J = np.ones((3, 4))\n"
                "    return J @ J\n")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A notebook of a stub, a learner error and a plain error, each followed by its test, run in one kernel."""
    folder = tmp_path_factory.mktemp("rendering")
    shutil.copytree(REPO / "readonly", folder / "readonly", ignore=shutil.ignore_patterns("__pycache__"))
    nb = new_notebook(cells=[
        new_code_cell("def J_b3(x, y):\n    raise NotImplementedError()"), new_code_cell(TEST_CELL),
        new_code_cell(WRONG_SHAPES), new_code_cell(TEST_CELL),
        new_code_cell("def helper():\n    return 1 / 0\nhelper()"),
    ])
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def error_of(cell):
    errors = [output for output in cell.outputs if output.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return errors[0]


def test_a_failed_check_is_an_error_output_whose_traceback_is_its_message_alone(executed):
    error = error_of(executed.cells[1])
    assert error.ename == "CheckFailed"  # nbgrader still sees an error: the cell gets no points
    shown = [plain(line) for line in error.traceback]
    assert shown == error.evalue.splitlines()
    assert shown[0] == "J_b3 still raises NotImplementedError: replace the line `raise NotImplementedError()` " \
                       "with your code, then run its cell again."
    assert error.traceback[0].startswith("\x1b[1;31m")  # the first line stands out, in bold red
    assert not any(word in "\n".join(shown) for word in ("checking.py", "_checks.py", "Traceback", "run_test"))


def test_an_error_in_the_learner_s_code_shows_the_learner_s_line_and_no_frame_of_the_checks(executed):
    shown = "\n".join(plain(line) for line in error_of(executed.cells[3]).traceback)
    assert shown.startswith("J_b3 raised ValueError: matmul")
    assert "at line 4 of your cell: return J @ J" in shown and "J (3, 4)" in shown
    assert "checking.py" not in shown and "_checks.py" not in shown


def test_any_other_error_keeps_ipython_s_traceback(executed):
    shown = "\n".join(plain(line) for line in error_of(executed.cells[4]).traceback)
    assert "Traceback (most recent call last)" in shown and "helper()" in shown
    assert shown.rstrip().endswith("ZeroDivisionError: division by zero")


def test_nbconvert_shows_the_message_alone(executed):
    html, _ = HTMLExporter().from_notebook_node(executed)
    assert html.count("J_b3 still raises NotImplementedError") == 1
    assert "backprop_checks.py" not in html and "checking.py" not in html


def feedback(nb, withhold=True):
    return TeachingFeedback(withhold_hidden_tests=withhold).preprocess(nb, {})[0]


def graded(cell, grade_id):
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 1, "locked": True,
                                 "solution": False, "schema_version": 3}
    return cell


def test_the_feedback_shows_a_failed_check_s_message_once_hidden_or_not(executed):
    nb = nbformat.from_dict(executed)
    graded(nb.cells[1], "test_J_b3")
    nb.cells[3] = graded(nb.cells[3], "test_J_b3_hidden")
    nb.cells[3].source = f"### BEGIN HIDDEN TESTS\n{nb.cells[3].source}\n### END HIDDEN TESTS"
    shown = feedback(nb)
    visible, hidden = ("\n".join(plain(line) for line in error_of(shown.cells[i]).traceback) for i in (1, 3))
    assert visible.count("still raises NotImplementedError") == 1 and "Where it happened" not in visible
    assert hidden.startswith("J_b3 raised ValueError: matmul") and hidden.count("matmul") == 1
    assert "run_test" not in shown.cells[3].source  # the hidden test's code is withheld, its message kept


GRADER_PATH = ("/tmp/coursetools-grade-x1/dask-scratch-space/worker-abc/autograded/bob/backprop/readonly/"
               "backprop.py")


def test_the_feedback_leaves_the_grader_s_folders_out_and_says_another_error_s_message_once():
    traceback = ["\x1b[31m----\x1b[39m", "\x1b[31mValueError\x1b[39m    Traceback (most recent call last)",
                 f"\x1b[36mFile \x1b[39m\x1b[32m{GRADER_PATH}:12\x1b[39m, in \x1b[36mnetwork_function\x1b[39m",
                 "File /work/main/.venv/lib/python3.11/site-packages/numpy/core/fromnumeric.py:3, in sum",
                 "\x1b[31mValueError\x1b[39m: bad shapes"]
    cell = graded(new_code_cell("run_test(...)", outputs=[
        new_output("error", ename="ValueError", evalue="bad shapes", traceback=traceback)]), "test_J_b1")
    shown = [plain(line) for line in feedback(new_notebook(cells=[cell])).cells[0].outputs[0].traceback]
    assert shown[0] == "ValueError: bad shapes" and "\n".join(shown).count("bad shapes") == 1
    assert "File readonly/backprop.py:12, in network_function" in shown
    assert "File site-packages/numpy/core/fromnumeric.py:3, in sum" in shown
    assert not any("/tmp/" in line or "/work/" in line for line in shown)
