"""What the two checks modules share: calling learner code and comparing numbers.

A failed check raises ``CheckFailed``, an ``AssertionError`` whose message
says what was expected, what came back and the likely cause; IPython shows
that message alone, without the frames of the checks, so that it is the first
thing a learner reads in the notebook and in the feedback.

Comparisons are made on plain Python floats, so a notebook that rebinds
NumPy's comparison functions cannot change a verdict.  The guards that see
a numerical derivative as it is computed are in readonly.guards, which
imports this module (not the other way round); what every checks module
provides is declared in readonly.interface.  Importing this module has no
side effects.
"""
import contextlib
import importlib
import io
import json
import math
import re
import signal
import threading
import warnings
from pathlib import Path

import numpy as np

from readonly.gradients import relative_error


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


def failure(name, expected, got, causes=(), mistake="unrecognised"):
    """A CheckFailed for name, the learner's function, whose message a learner reads first.

    expected, got: short descriptions; causes: sentences naming the likely mistakes, most likely
    first; mistake: the identifier of the recognised cause, without the function's name.
    """
    lines = [f"{name} is not right yet.", f"  expected: {expected}", f"  got:      {got}"]
    if causes:
        lines.append("  likely causes:" if len(causes) > 1 else "  likely cause:")
        lines.extend(f"    - {cause}" for cause in causes)
    return CheckFailed("\n".join(lines), f"{name}/{mistake}")


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


_SHAPE = re.compile(r"\((\d+)\s*,\s*(\d+)\)")
_MISMATCH = ("could not be broadcast", "matmul: Input operand", "not aligned", "reshape", "shapes")


def named_shapes(text, sizes):
    """text with each shape (a, b) followed by its names, as in "(20, 7) = (N, n2)".

    sizes: {number: name}, the notebook's names for the sizes of this case (for example
    {20: "N", 6: "n1", 7: "n2"}); a shape is named only when both of its numbers are known.
    """
    def name(match):
        a, b = int(match.group(1)), int(match.group(2))
        if a in sizes and b in sizes and (sizes[a], sizes[b]) != (str(a), str(b)):
            return f"({a}, {b}) = ({sizes[a]}, {sizes[b]})"
        return match.group(0)

    return _SHAPE.sub(name, text) if sizes else text


def learner_frame(error, function):
    """(frame, line number) of the last line of the learner's own code that error passed through, or None.

    The learner's code is the function and anything else defined in a notebook cell: a frame
    whose file is not a module of a package (readonly's, NumPy's, Python's).
    """
    import traceback

    library = (str(Path(__file__).resolve().parent), str(Path(np.__file__).resolve().parent.parent),
               str(Path(contextlib.__file__).resolve().parent))
    ours = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
            if frame.f_code.co_filename == getattr(getattr(function, "__code__", None), "co_filename", None)
            or not str(Path(frame.f_code.co_filename).resolve()).startswith(library)]
    return ours[-1] if ours else None


def _shapes_in(frame, code, sizes):
    """"J (20, 2) = (N, 2); W3 (2, 7) = (2, n2)" for the arrays named in code, as frame sees them."""
    shown = []
    for name in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", code)):
        value = frame.f_locals.get(name, frame.f_globals.get(name))
        if isinstance(value, np.ndarray):
            shown.append(f"{name} {named_shapes(str(value.shape), sizes)}")
    return "; ".join(shown)


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
            raise _raised(error, function, name, sizes) from None


def _raised(error, function, name, sizes):
    """The CheckFailed for error, raised by the learner's function: its line, and the shapes there."""
    import linecache

    try:
        text = str(error)
    except Exception:  # an exception class of the learner's whose message cannot be made
        text = f"(an unprintable {type(error).__name__})"
    shapes = isinstance(error, ValueError) and any(word in text for word in _MISMATCH)
    lines = [f"{name} raised {type(error).__name__}: {named_shapes(text, sizes or {}) if shapes else text}"]
    found = learner_frame(error, function)
    code = linecache.getline(found[0].f_code.co_filename, found[1]).strip() if found else ""
    if found:
        lines.append(f"  at line {found[1]} of your cell" + (f": {code}" if code else ""))
    if shapes:
        if found and code:
            lines.append(f"  shapes in that line: {_shapes_in(found[0], code, sizes or {})}")
        lines.append("  the shapes do not fit together: write each factor's shape beside it; "
                     + ", ".join(f"{v} = {k}" for k, v in (sizes or {}).items() if v != str(k)))
        return CheckFailed("\n".join(lines), f"{name}/shapes-do-not-fit")
    return CheckFailed("\n".join(lines), f"{name}/raises-{type(error).__name__}")


def floats(value, name, shape, shape_causes=(), known_shapes=None, sizes=None):
    """Check that value is a finite real NumPy array of the given shape.

    Returns its entries, in C order, as a list of Python floats.
    shape_causes: likely causes to print when the shape is wrong; known_shapes: {shape: (mistake,
    cause)} for wrong shapes that a known mistake gives; sizes: {number: name} to name shapes.
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
        mistake, causes = "wrong-shape", list(shape_causes)
        if known_shapes and plain.shape in known_shapes:
            mistake, cause = known_shapes[plain.shape]
            causes = [cause]
        raise failure(name, f"an array of shape {named_shapes(str(tuple(shape)), sizes or {})}",
                      f"shape {named_shapes(str(plain.shape), sizes or {})}", causes, mistake)
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
    (readonly.gradients, this module, readonly.guards) are imported afresh first, each after the
    ones it imports, so that the checks module is bound to the fresh copies and what ran before in
    the notebook does not change the verdict.  A failure is raised as the checks module's
    CheckFailed, its message first.
    """
    for shared in ("readonly.gradients", __name__, "readonly.guards"):  # each after those it imports
        importlib.reload(importlib.import_module(shared))
    checks = importlib.reload(importlib.import_module(module))
    checks.check(namespace, name, cases)
    if message:
        print(message)

