"""The pictures' rule (readonly/drawing.py): skipping them while graded changes nothing a graded cell sees.

Each master notebook runs twice in a real kernel, both times as nbgrader runs it (NBGRADER_EXECUTION
set): once with the pictures drawn (readonly.drawing.graded patched to say no, as before the rule),
once as graded now.  Before every graded cell a probe prints a fingerprint of what that cell can
see: every global name with its value (arrays by their bytes, functions by their code), and the
state of NumPy's and Python's global random generators.  The fingerprints, and the graded cells'
own outputs, must be equal; the graded run must draw no figure and never import matplotlib.
"""
import json
import os

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

from coursetools.course import assignments

pytestmark = pytest.mark.slow

PROBE = r'''
import hashlib as _h, json as _j, random as _r, sys as _s, types as _t
import numpy as _np

def _code_print(code):  # its bytecode and constants, nested code included (whose repr holds an address)
    consts = [_code_print(c) if isinstance(c, _t.CodeType) else repr(c) for c in code.co_consts]
    return _h.sha256(code.co_code + repr(consts).encode()).hexdigest()

def _print_of(value):
    if isinstance(value, _np.ndarray):
        return f"array {value.dtype} {value.shape} " + _h.sha256(_np.ascontiguousarray(value).tobytes()).hexdigest()
    if isinstance(value, _t.FunctionType):
        return f"function {value.__module__}.{value.__qualname__} " + _code_print(value.__code__)
    if isinstance(value, (int, float, complex, str, bytes, bool, type(None), tuple, list, dict)):
        return repr(value)
    return "object " + type(value).__qualname__

print("PROBE " + _j.dumps({
    "names": {name: _print_of(value) for name, value in sorted(globals().items())
              if not name.startswith("_") and not isinstance(value, _t.ModuleType)
              and name not in ("In", "Out", "exit", "quit", "get_ipython")},
    "numpy random": _h.sha256(repr(_np.random.get_state()).encode()).hexdigest(),
    "python random": _h.sha256(repr(_r.getstate()).encode()).hexdigest(),
    "matplotlib imported": "matplotlib" in _s.modules,
}))
'''
#: Both runs start the global generators alike (a kernel seeds them afresh), so that a picture drawing from them shows.
SEED = "import random, numpy\nrandom.seed(2026)\nnumpy.random.seed(2026)\ndel random, numpy\n"
DRAW_ANYWAY = "import readonly.drawing\nreadonly.drawing.graded = lambda: False  # the pictures are drawn, as before\n"


def graded_run(assignment, draw):
    """The master notebook run as nbgrader runs it, with a probe before each graded cell; the executed notebook."""
    notebook = nbformat.read(assignment.source(REPO), as_version=4)
    cells = [nbformat.v4.new_code_cell(SEED + (DRAW_ANYWAY if draw else ""))]
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cells.append(nbformat.v4.new_code_cell(PROBE, metadata={"probe_of": cell.metadata["nbgrader"]["grade_id"]}))
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell(PROBE, metadata={"probe_of": "the end"}))
    notebook.cells = cells
    previous = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # nbclient's kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(assignment.source(REPO).parent)}}).execute()
    finally:
        if previous is None:
            del os.environ["NBGRADER_EXECUTION"]
        else:
            os.environ["NBGRADER_EXECUTION"] = previous
    return notebook


def probes(notebook):
    found = {}
    for cell in notebook.cells:
        if "probe_of" in cell.metadata:
            (line,) = [line for o in cell.outputs if o.get("name") == "stdout" for line in o.text.splitlines()
                       if line.startswith("PROBE ")]
            found[cell.metadata["probe_of"]] = json.loads(line[len("PROBE "):])
    return found


def graded_outputs(notebook):
    """{grade_id: outputs} of the graded cells, a stream's consecutive pieces joined (the kernel flushes when it will)."""
    found = {}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            outputs = found[cell.metadata["nbgrader"]["grade_id"]] = []
            for output in cell.outputs:
                output = {k: v for k, v in output.items() if k != "execution_count"}
                if outputs and output["output_type"] == "stream" and outputs[-1].get("name") == output["name"]:
                    outputs[-1] = {**outputs[-1], "text": outputs[-1]["text"] + output["text"]}
                else:
                    outputs.append(output)
    return found


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_graded_cells_see_the_same_with_the_pictures_skipped(assignment):
    drawn, skipped = graded_run(assignment, draw=True), graded_run(assignment, draw=False)
    before, after = probes(drawn), probes(skipped)
    assert len(before) >= 4 and before.keys() == after.keys()
    for cell in before:
        names, now = before[cell].pop("names"), after[cell].pop("names")
        assert {n: (names.get(n), now.get(n)) for n in names.keys() | now.keys() if names.get(n) != now.get(n)} == {}, cell
        assert {**before[cell], "matplotlib imported": None} == {**after[cell], "matplotlib imported": None}, cell
    assert graded_outputs(drawn) == graded_outputs(skipped)
    images = [o for c in drawn.cells for o in c.get("outputs", ()) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the rule was tried against pictures that were really drawn
    assert before["the end"]["matplotlib imported"] is True
    assert not any("image/png" in o.get("data", {}) for c in skipped.cells for o in c.get("outputs", ()))
    assert after["the end"]["matplotlib imported"] is False
    printed = "".join(o.get("text", "") for c in skipped.cells for o in c.get("outputs", ()))
    assert "grading skips it" in printed
