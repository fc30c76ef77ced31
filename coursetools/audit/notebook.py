"""The notebook's namespace in this process: what the audit runs the instructor's and the mutants' code in.

No kernel: the cells that only import and define (subject.Subject.setup: the imports, the model,
the given functions and the solutions) are run into a fresh namespace for each mutant, its cell in
place of its function's solution (the modules they import are imported once per process).  The process is first made to look like the
notebook's kernel under autograde (`prepare`): its working folder and sys.path[0] are the
assignment's source folder, matplotlib draws nothing, NBGRADER_EXECUTION is set.
"""
import contextlib
import functools
import io
import os
import sys
import tempfile
import warnings
from pathlib import Path


#: Where this process keeps the bytecode of the modules the test cells reload (readonly.checking.run_test
#: reloads the checks before every test): outside the course, and written even under PYTHONDONTWRITEBYTECODE.
PYCACHE = Path(tempfile.gettempdir()) / "coursetools-audit-pycache"


def prepare(subject):
    """Make this process look like the notebook's kernel under nbgrader autograde (call once per process).

    It also keeps the bytecode of reloaded modules in PYCACHE, so that a reload does not compile them again.
    """
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.chdir(subject.folder)
    if str(subject.folder) not in sys.path:
        sys.path.insert(0, str(subject.folder))


@functools.lru_cache(maxsize=64)
def _compiled(source, name):
    return compile(source, name, "exec")


def run_cell(source, namespace, name="<cell>"):
    """Run one cell's source in namespace as a kernel does; return (error or None, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("default")
        try:
            exec(_compiled(source, name), namespace)  # noqa: S102 -- the instructor's cells and their mutants
        except Exception as error:  # a failed cell, as nbgrader sees it
            return error, out.getvalue(), err.getvalue()
    return None, out.getvalue(), err.getvalue()


def namespace(subject, replaced=None):
    """A fresh namespace in which the notebook's setup cells ran, in order.

    replaced: (function, cell): that function's solution cell replaced by cell, a mutant's, whose
    failure is returned, not raised.  Returns (namespace, error of the replaced cell or None); a
    RuntimeError names a setup cell of the instructor's that failed.
    """
    found = {"__name__": "__main__", "__builtins__": __builtins__}
    name, cell = replaced or (None, None)
    failed = None
    for index, source in enumerate(subject.setup):
        if name is not None and source == subject.functions[name].cell:
            failed, _, _ = run_cell(cell, found, f"<cell {name}>")
            continue
        error, _, _ = run_cell(source, found, f"<setup cell {index}>")
        if error is not None:
            raise RuntimeError(f"{subject.assignment}: a setup cell of the notebook failed: {error!r}")
    return found, failed
