"""The truth about a mutant, decided without the assignment's checks: is it the instructor's solution?

The solution and the mutant are both called on every input that the assignment's domains module
draws for the function (`inputs(name, seed)`: [(globals, args)], see readonly/backprop_domains.py)
and their results compared.  Equal everywhere, to the module's TOLERANCE (a relative error of the
whole array, by its largest entry), means equivalent; a different value, shape, type or dtype, an
exception, or a NaN where the solution has a number means wrong (running out of time is the caller's:
coursetools.audit.run counts it as a timeout).
Equivalence is decided by testing, not proved.
"""
import contextlib
import copy
import io
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursetools.errors import GradingError


@dataclass(frozen=True)
class Truth:
    """equivalent: whether the mutant matched the solution on every input; why: the first difference found."""

    equivalent: bool
    why: str = ""


def domains_path(root, module):
    """The domains module beside a checks module: readonly.backprop_checks -> <root>/readonly/backprop_domains.py."""
    if not module or not module.endswith("_checks"):
        raise GradingError(f"the audit needs a checks module named <something>_checks; the notebook declares {module!r}")
    *package, last = module.split(".")
    return Path(root, *package, last[:-len("_checks")] + "_domains.py")


def load_domains(root, module):
    """The domains module of checks module `module`, loaded from its file (no sys.path change); a GradingError if
    it is missing or lacks inputs and TOLERANCE."""
    path = domains_path(root, module)
    if not path.is_file():
        raise GradingError(f"no domains module {path}: declare the inputs of each graded function there "
                           "(inputs(name, seed) and TOLERANCE; see readonly/backprop_domains.py)")
    spec = importlib.util.spec_from_file_location(f"_audit_domains_{path.stem}", path)
    domains = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(domains)
    if not callable(getattr(domains, "inputs", None)) or not isinstance(getattr(domains, "TOLERANCE", None), float):
        raise GradingError(f"{path} must define inputs(name, seed) and TOLERANCE (a float)")
    return domains


def _call(space, name, globals_, args):
    """space[name](*args) with globals_ installed in space; ('ok', result) or ('error', text)."""
    space.update(copy.deepcopy(globals_))
    quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
    with warnings.catch_warnings(), np.errstate(all="ignore"), quiet[0], quiet[1]:
        warnings.simplefilter("ignore")
        try:
            return "ok", space[name](*copy.deepcopy(args))
        except Exception as error:  # a mutant's failure is a difference
            return "error", f"{type(error).__name__}: {error}"


def difference(want, got, tolerance):
    """'' if got is want (the solution's result) to tolerance, else what differs."""
    if isinstance(want, np.ndarray) != isinstance(got, np.ndarray):
        return f"a {type(got).__name__} where the solution gives a {type(want).__name__}"
    want_a, got_a = np.asarray(want), np.asarray(got)
    if want_a.shape != got_a.shape:
        return f"shape {got_a.shape} where the solution gives {want_a.shape}"
    if got_a.dtype.kind not in "biuf":
        return f"dtype {got_a.dtype}"
    want_f, got_f = want_a.astype(float), got_a.astype(float)
    if not np.array_equal(np.isfinite(want_f), np.isfinite(got_f)):
        return "NaN or infinite entries where the solution has numbers"
    finite = np.isfinite(want_f)
    scale = np.max(np.abs(want_f[finite]), initial=0.0)
    error = np.max(np.abs(want_f[finite] - got_f[finite]), initial=0.0)
    if error > tolerance * scale or (scale == 0 and error > 0):
        return f"a relative error of {error / scale if scale else float('inf'):.3g}"
    return ""


def verdict(solution, mutant, name, domains, seed):
    """The Truth of mutant against solution (namespaces in which the function name is defined) on domains' inputs."""
    for index, (globals_, args) in enumerate(domains.inputs(name, seed)):
        kind, want = _call(solution, name, globals_, args)
        if kind != "ok":
            raise GradingError(f"the solution of {name} fails on input {index} of its domain: {want}")
        kind, got = _call(mutant, name, globals_, args)
        shapes = ", ".join(str(np.shape(a)) for a in args)
        if kind != "ok":
            return Truth(False, f"input {index} ({shapes}): raised {got}"[:300])
        why = difference(want, got, domains.TOLERANCE)
        if why:
            return Truth(False, f"input {index} ({shapes}): {why}"[:300])
    return Truth(True)
