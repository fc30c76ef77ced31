"""Run chosen cells of a master notebook in-process, to test its reference solution."""
import os
from pathlib import Path

import nbformat


def run_cells(path, grade_ids):
    """Execute the code cells with these grade_ids, in notebook order, in a fresh namespace.

    The notebook's folder is the working directory while they run, as in Jupyter.
    Returns the namespace.
    """
    notebook = nbformat.read(path, as_version=4)
    wanted = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") in grade_ids]
    missing = set(grade_ids) - {c.metadata["nbgrader"]["grade_id"] for c in wanted}
    assert not missing, f"cells {missing} are not in {path}"
    namespace = {"__name__": "__notebook__"}
    here = os.getcwd()
    os.chdir(Path(path).parent)
    try:
        for cell in wanted:
            exec(compile(cell.source, f"{path}:{cell.metadata['nbgrader']['grade_id']}", "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace
