"""What the two checks modules share: calling learner code and comparing numbers.

A failed check raises ``CheckFailed``, an ``AssertionError`` whose message
says what was expected, what came back and the likely cause, so that the
message is the first thing a learner reads in the notebook and in the
feedback.

Comparisons are made on plain Python floats, so a notebook that rebinds
NumPy's comparison functions cannot change a verdict.  Importing this module
has no side effects.
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


class CheckFailed(AssertionError):
    """A learner's function gave a wrong answer; the message says why."""


def failure(name, expected, got, causes=()):
    """Build the message of a failed check.

    name: the learner's function; expected, got: short descriptions;
    causes: sentences naming the likely mistakes, most likely first.
    """
    lines = [f"{name} is not right yet.", f"  expected: {expected}", f"  got:      {got}"]
    if causes:
        lines.append("  likely causes:")
        lines.extend(f"    - {cause}" for cause in causes)
    return "\n".join(lines)


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


def call(function, name, *args):
    """Call a learner's function and return its result.

    Warnings and anything written to stderr are silenced, because output on
    stderr makes nbgrader give a test cell no points, even when the answer is
    right. The call may take TIME_LIMIT seconds. Any exception the function
    raises becomes a CheckFailed that names it.
    """
    if not callable(function):
        raise CheckFailed(f"{name} is not defined as a function: run the cell that defines it, and check it for errors.")
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            with _time_limit(TIME_LIMIT):
                return function(*args)
        except _OutOfTime:
            raise CheckFailed(f"{name} did not return within {TIME_LIMIT} s: look for an endless loop.") from None
        except NotImplementedError:
            raise CheckFailed(
                f"{name} still raises NotImplementedError: replace the line "
                "`raise NotImplementedError()` with your code, then run its cell again."
            ) from None
        except CheckFailed:
            raise
        except Exception as error:  # the learner's bug, reported as a failed check
            raise CheckFailed(f"{name} raised {type(error).__name__}: {error}") from None


def floats(value, name, shape, shape_causes=()):
    """Check that value is a finite real NumPy array of the given shape.

    Returns its entries, in C order, as a list of Python floats.
    shape_causes: likely causes to print when the shape is wrong.
    """
    if not isinstance(value, np.ndarray):
        raise CheckFailed(failure(
            name, f"a NumPy array of shape {shape}", f"a {type(value).__name__}",
            ["a Python list, number or other object was returned where np.array(...) or a NumPy expression is needed"],
        ))
    plain = np.asarray(value)  # a view of any ndarray subclass as a plain array
    if plain.shape != tuple(shape):
        raise CheckFailed(failure(name, f"an array of shape {tuple(shape)}", f"shape {plain.shape}", shape_causes))
    if plain.dtype.kind not in "biuf":
        raise CheckFailed(failure(name, "real numbers", f"an array of dtype {plain.dtype}"))
    entries = [float(v) for v in np.ndarray.tolist(plain.ravel())]
    if not all(math.isfinite(v) for v in entries):
        raise CheckFailed(failure(
            name, "finite numbers", "NaN or infinite entries",
            ["a division by zero, or an overflowing exponential; use the given sigma and d_sigma"],
        ))
    return entries


def received(got, size, name):
    """got, an answer that crossed from a notebook's kernel as JSON, as a list of size floats."""
    if isinstance(got, str):  # the kernel's side of the check failed: its message
        raise CheckFailed(got)
    if not isinstance(got, list) or len(got) != size or not all(
            type(v) in (int, float) and math.isfinite(v) for v in got):
        raise CheckFailed(f"{name}: the notebook did not report {size} finite numbers for the grader's call")
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
            results.append(str(failed))
    print(ANSWERS + json.dumps({"function": name, "answers": results}))


def relative_error(got, want):
    """Largest entry-wise difference over the largest entry of want (lists of floats)."""
    worst = max((abs(g - w) for g, w in zip(got, want, strict=True)), default=0.0)
    scale = max((abs(w) for w in want), default=0.0)
    return worst / scale if scale > 0 else worst


def scaled_match(got, want, factor, tolerance):
    """True when got equals factor * want to the given relative tolerance."""
    return relative_error(got, [factor * w for w in want]) < tolerance


def central_difference(function, array, step):
    """Derivative of the scalar function() with respect to each entry of array.

    function reads array; each entry is moved by +step and -step in place and
    put back.  Returns an array of array's shape.
    """
    gradient = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        above = function()
        array[index] = original - step
        below = function()
        array[index] = original
        gradient[index] = (above - below) / (2 * step)
    return gradient


def complex_step(function, array, step=1e-30):
    """Derivative of the real-analytic function() with respect to each entry of a complex array.

    Exact to rounding error (no subtraction of nearby values), which makes it an
    independent reference that a finite-difference approximation cannot match.
    """
    gradient = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + 1j * step
        gradient[index] = function().imag / step
        array[index] = original
    return gradient


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
