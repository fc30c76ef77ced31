"""A learner's self-check: run a notebook's visible tests and summarise them per function.

Stock `nbgrader validate` exits 0 even when tests fail; this exits 1 when any
visible test fails, and prints each failure's whole message.
The notebook file is not changed.
"""
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from coursetools.course import function_of, graded_functions


def failure_lines(cell):
    """Why a test cell failed, as nbgrader judges it (an error or stderr output); [] if it passed."""
    for output in cell.outputs:
        if output.output_type == "error":
            if output.ename == "CheckFailed":
                return output.evalue.splitlines()
            return [f"{output.ename}: {output.evalue}"]
        if output.output_type == "stream" and output.name == "stderr":
            return ["the test wrote to stderr: " + output.text.strip().splitlines()[0]]
    return []


def run(path, timeout=120):
    """Execute the notebook at path in its own folder and return the executed copy."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    # The notebooks skip the long training run while they are checked, as under nbgrader validate.
    client.execute(env={**os.environ, "NBGRADER_EXECUTION": "validate"})
    return notebook


def summary(notebook):
    """(function, failure lines) for each graded function, from its visible test cells."""
    functions = graded_functions(notebook)
    results = {function: [] for function in functions}
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not grading.get("grade") or grading["grade_id"].endswith("_hidden"):
            continue
        results[function_of(grading["grade_id"], functions)].extend(failure_lines(cell))
    return list(results.items())


def printed(name, results):
    """The lines `make check` prints for results (see summary) of the notebook called name: every failure whole."""
    width = max(len(function) for function, _ in results)
    lines = [f"{name}: visible tests"]
    for function, failure in results:
        lines.append(f"  {function:<{width}}  {'FAIL' if failure else 'pass'}")
        lines.extend(f"  {'':<{width}}    {line}" for line in failure)
    failed = sum(bool(failure) for _, failure in results)
    return [*lines, f"{len(results) - failed} passed, {failed} failed",
            "More tests, on other cases, run when your notebook is graded."]


def check(path):
    """Print the summary for the notebook at path; return the exit status (0 when all pass)."""
    results = summary(run(path))
    print("\n".join(printed(Path(path).name, results)))
    return 1 if any(failure for _, failure in results) else 0
