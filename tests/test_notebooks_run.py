"""The master notebooks run top to bottom, headless, with no error."""
import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

from coursetools.course import assignments

pytestmark = pytest.mark.slow


def execute(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def outputs_of(notebook, kind):
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


@pytest.fixture(scope="session")
def executed():
    cache = {}

    def run(name):
        if name not in cache:
            assignment = next(a for a in assignments(REPO) if a.name == name)
            cache[name] = execute(assignment.source(REPO))
        return cache[name]

    return run


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_source_notebook_runs_without_error_or_stderr(executed, assignment):
    notebook = executed(assignment.name)
    assert outputs_of(notebook, "error") == []
    stderr = [o.text for o in outputs_of(notebook, "stream") if o.name == "stderr"]
    assert stderr == []
    images = [o for o in outputs_of(notebook, "display_data") if "image/png" in o.data]
    assert len(images) >= 2


def test_backprop_notebook_trains_to_a_small_cost(executed):
    notebook = executed("backprop")
    printed = "".join(o.text for o in outputs_of(notebook, "stream"))
    last = [line for line in printed.splitlines() if line.startswith("cost before training")][-1]
    assert float(last.rsplit(":", 1)[1]) < 5e-3


def test_heights_notebook_ends_at_the_least_squares_fit(executed):
    notebook = executed("heights")
    printed = "".join(o.text for o in outputs_of(notebook, "stream"))
    last = [line for line in printed.splitlines() if line.startswith("after 50 steps")][-1]
    numbers = dict(part.strip().split(" = ") for part in last.split(":", 1)[1].split(","))
    assert float(numbers["mu"].split()[0]) == pytest.approx(178.52, abs=0.01)
    assert float(numbers["sig"].split()[0]) == pytest.approx(7.55, abs=0.01)
    assert float(numbers["chi2"]) == pytest.approx(4.39e-4, abs=5e-7)
