"""What the two checks modules share: calling learner code and comparing numbers.

A failed check raises ``CheckFailed``, an ``AssertionError`` whose message
says what was expected, what came back and the likely cause (or, when no
known mistake matches, says so and how to find the mistake); IPython shows
that message alone, without the frames of the checks, so that it is the first
thing a learner reads in the notebook and in the feedback.

Comparisons are made on plain Python floats, so a notebook that rebinds
NumPy's comparison functions cannot change a verdict.  The guards that see
a numerical derivative as it is computed are in readonly.guards, which
imports this module (not the other way round), and what a learner's own
exception is told is in readonly.learner_errors; what every checks module
provides is declared in readonly.interface.  Importing this module has no
side effects.
"""
import contextlib
import importlib
import io
import json
import math
import signal
import threading
import warnings

import numpy as np

from readonly.gradients import relative_error
from readonly.learner_errors import named_shapes, raised


class CheckFailed(AssertionError):
    """A learner's function gave a wrong answer; the message says why.

    mistake: a stable identifier of the cause the check recognised, "<function>/<cause>"
    (for example "J_b3/sigma-for-d_sigma"), or "<function>/unrecognised".  The grader records it,
    and the class report counts it; the learner reads the message.
    """

    def __init__(self, message, mistake="unrecognised"):
        super().__init__(message)
        self.mistake = mistake

    def _render_traceback_(self):
        """What IPython shows for this error: the message alone, its first line in bold red.

        IPython's traceback protocol: the kernel still reports an error (nbgrader's zero for the cell),
        with these lines as its traceback in place of frames of the checks, which the learner does not
        edit; where the learner's own code raised, the message shows that line.
        """
        lines = str(self).splitlines() or [type(self).__name__]
        return [f"\x1b[1;31m{lines[0]}\x1b[0m", *lines[1:]]


def failure(name, expected, got, causes=(), mistake="unrecognised", advice=()):
    """A CheckFailed for name, the learner's function, whose message a learner reads first.

    expected, got: short descriptions; causes: sentences naming the likely mistakes, most likely
    first; mistake: the identifier of the recognised cause, without the function's name; advice:
    lines printed in place of causes when no known mistake matched (see `explained`).
    """
    lines = [f"{name} is not right yet.", f"  expected: {expected}", f"  got:      {got}"]
    if causes:
        lines.append("  likely causes:" if len(causes) > 1 else "  likely cause:")
        lines.extend(f"    - {cause}" for cause in causes)
    lines.extend(f"  {line}" for line in advice)
    return CheckFailed("\n".join(lines), f"{name}/{mistake}")


def explained(found, advice):
    """(causes, mistake, advice) for `failure`, from found, what `recognise` returned.

    A known mistake gives its one cause; None (no known mistake matched) gives no cause at all, only
    advice: lines that say so and show the learner a way to find the mistake themselves.
    """
    return ([found[1]], found[0], ()) if found else ((), "unrecognised", tuple(advice))


def recognise(got, known, tolerance=None):
    """The first (mistake, cause) of known whose form got matches, or None.

    got: the learner's entries (a list of floats); known: (mistake, form, cause) triples, each
    form the entries that mistake gives (an array or list).  A match is a relative error below
    tolerance (default MATCH_TOLERANCE): far looser than a right answer must be, far tighter than
    two different mistakes come to each other.
    """
    tolerance = MATCH_TOLERANCE if tolerance is None else tolerance
    for mistake, form, cause in known:
        if relative_error(got, np.ravel(form).tolist()) < tolerance:
            return mistake, cause
    return None


#: Relative error within which a wrong answer is taken to be a known mistake (see `recognise`).
MATCH_TOLERANCE = 1e-4
#: Seconds one call of a learner's function may take before the check gives up on it.
TIME_LIMIT = 5


class _OutOfTime(BaseException):
    """Raised inside a learner's function when TIME_LIMIT runs out."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the block after seconds, where a timer signal can be used (the main thread on Unix)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(function, name, *args, sizes=None):
    """Call a learner's function and return its result.

    Warnings and anything written to stderr are silenced, because output on
    stderr makes nbgrader give a test cell no points, even when the answer is
    right. The call may take TIME_LIMIT seconds. Any exception the function
    raises becomes a CheckFailed that names it, shows the learner's line it came
    from and, for shape errors, names the shapes with sizes ({number: name}).
    """
    if not callable(function):
        raise CheckFailed(f"{name} is not defined as a function: run the cell that defines it, and check it for "
                          "errors.", f"{name}/not-defined")
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            with _time_limit(TIME_LIMIT):
                return function(*args)
        except _OutOfTime:
            raise CheckFailed(f"{name} did not return within {TIME_LIMIT} s: look for an endless loop.",
                              f"{name}/endless-loop") from None
        except NotImplementedError:
            raise CheckFailed(
                f"{name} still raises NotImplementedError: replace the line "
                "`raise NotImplementedError()` with your code, then run its cell again.", f"{name}/not-implemented"
            ) from None
        except CheckFailed:
            raise
        except (Exception, SystemExit) as error:  # the learner's bug, reported as a failed check
            raise CheckFailed(*raised(error, function, name, sizes)) from None


def floats(value, name, shape, known_shapes=None, sizes=None, advice=()):
    """Check that value is a finite real NumPy array of the given shape.

    Returns its entries, in C order, as a list of Python floats.  known_shapes: {shape: (mistake,
    cause)} for wrong shapes that a known mistake gives; advice: what to print, in place of a cause,
    for any other wrong shape (see `explained`); sizes: {number: name} to name shapes.
    """
    if value is None:
        raise failure(name, f"a NumPy array of shape {shape}", "None",
                      ["the `return` line is missing, or returns nothing"], "missing-return")
    if not isinstance(value, np.ndarray):
        raise failure(
            name, f"a NumPy array of shape {shape}", f"a {type(value).__name__}",
            ["a Python list, number or other object was returned where np.array(...) or a NumPy expression is "
             "needed"], "not-an-array")
    plain = np.asarray(value)  # a view of any ndarray subclass as a plain array
    if plain.shape != tuple(shape):
        found = (known_shapes or {}).get(plain.shape)
        causes, mistake, advice = explained(found, advice)
        raise failure(name, f"an array of shape {named_shapes(str(tuple(shape)), sizes or {})}",
                      f"shape {named_shapes(str(plain.shape), sizes or {})}", causes,
                      mistake if found else "wrong-shape", advice)
    if plain.dtype.kind not in "biuf":
        raise failure(name, "real numbers", f"an array of dtype {plain.dtype}", (), "not-real")
    entries = [float(v) for v in np.ndarray.tolist(plain.ravel())]
    if not all(math.isfinite(v) for v in entries):
        raise failure(
            name, "finite numbers", "NaN or infinite entries",
            ["a division by zero, or an overflowing exponential"], "not-finite")
    return entries


def received(got, size, name):
    """got, an answer that crossed from a notebook's kernel as JSON, as a list of size floats.

    A failure on the kernel's side crosses as {"message": ..., "mistake": ...} (or, from older
    checks, as its message alone) and is raised again.
    """
    if isinstance(got, str):
        raise CheckFailed(got, f"{name}/unrecognised")
    if isinstance(got, dict) and isinstance(got.get("message"), str):
        mistake = got.get("mistake")
        valid = isinstance(mistake, str) and mistake.startswith(f"{name}/") and len(mistake) < 100
        raise CheckFailed(got["message"], mistake if valid else f"{name}/unrecognised")
    if not isinstance(got, list) or len(got) != size or not all(
            type(v) in (int, float) and math.isfinite(v) for v in got):
        raise CheckFailed(f"{name}: the notebook did not report {size} finite numbers for the grader's call",
                          f"{name}/no-answer")
    return [float(v) for v in got]


#: Starts the line in which `print_answers` reports to the grader.
ANSWERS = "coursetools-answers: "


def print_answers(namespace, module, name, cases):
    """Print, as one JSON line, module.answer(namespace, name, case) for each case (or why it failed).

    The grader (coursetools.grading) runs this in the notebook's kernel after a function's tests,
    and judges the answers with module.judge in a process of its own: tests that a notebook
    silenced or rewrote cannot give it points its function does not earn.
    """
    checks = importlib.import_module(module)
    results = []
    for case in cases:
        try:
            results.append(checks.answer(namespace, name, case))
        except CheckFailed as failed:
            results.append({"message": str(failed), "mistake": failed.mistake})
    print(ANSWERS + json.dumps({"function": name, "answers": results}))


@contextlib.contextmanager
def installed(namespace, values):
    """Bind the names in values (a dict) in namespace for the duration of a with block.

    Afterwards every name is put back as it was, or removed if it was not
    there, whatever happens in the block.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    try:
        namespace.update(values)
        yield namespace
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def run_test(namespace, module, name, cases, message=None):
    """What a test cell does: check namespace[name] on cases, then print message (if any).

    module: the checks module, as "readonly.backprop_checks".  It and the modules it is made of
    (readonly.gradients, readonly.learner_errors, this module, readonly.guards, and the modules its
    PARTS names, such as readonly.backprop_mistakes) are imported afresh first, each after the ones
    it imports, so that the checks module is bound to the fresh copies and what ran before in the
    notebook does not change the verdict.  A failure is raised as the checks module's CheckFailed,
    its message first.
    """
    for shared in ("readonly.gradients", "readonly.learner_errors", __name__, "readonly.guards"):
        importlib.reload(importlib.import_module(shared))  # each after those it imports
    for part in getattr(importlib.import_module(module), "PARTS", ()):
        importlib.reload(importlib.import_module(part))
    checks = importlib.reload(importlib.import_module(module))
    checks.check(namespace, name, cases)
    if message:
        print(message)

