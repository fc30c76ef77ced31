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


# A numerical derivative, seen as it is computed.
#
# A complex step is exact to rounding, and a high-order finite difference comes within 1e-13 of
# the exact derivative, so no comparison of values tells them from a derivative worked out by
# hand.  What gives them away is how they are computed: the model is evaluated at a parameter
# moved by a small step, imaginary or real.  While a learner's function runs, the checks hand it
# its parameters as `Guarded` arrays (and numbers as `GuardedNumber`s) and bind guarded model
# functions in the notebook (the Gaussian f; sigma, d_sigma and network_function), which report
# to a `Watch` what only a numerical derivative does.

#: The mistake (after "<function>/") of a function seen computing a numerical derivative.
NUMERICAL_DERIVATIVE = "numerical-derivative"
#: A parameter moved by at most this fraction of its case's scale, and by more than
#: PERTURBATION_FLOOR of it, is taken to be moved by a numerical derivative's step.
PERTURBATION = 0.05
PERTURBATION_FLOOR = 1e-10
COMPLEX_STEP, FINITE_DIFFERENCE = "a complex step", "a finite difference"


class Watch:
    """What a learner's function was seen doing that only a numerical derivative does.

    refuse(what, kind) records what (for example "f evaluated at sig + 1e-20j") and kind
    (COMPLEX_STEP or FINITE_DIFFERENCE), and raises, so that the computation stops;
    `watched_call` then fails the check whatever the learner's code did with the exception.  A
    watch refuses only while armed (during the call), so arrays a learner kept do not raise later.
    """

    def __init__(self):
        self.seen = []
        self.armed = False

    def refuse(self, what, kind):
        if self.armed:
            self.seen.append((what, kind))
            raise CheckFailed(f"refused: {what}, as {kind} does", NUMERICAL_DERIVATIVE)


def is_complex(value):
    """Whether value is a complex number or holds one (an array of complex numbers or of objects, a list)."""
    if isinstance(value, (complex, np.complexfloating)):
        return True
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            return any(is_complex(v) for v in np.asarray(value).flat)
        return dtype.kind == "c"
    if isinstance(value, (list, tuple)):
        return any(is_complex(v) for v in value)
    return False


def plain(value):
    """value as NumPy and Python see it: a Guarded array as a plain view, a GuardedNumber as a float."""
    if isinstance(value, GuardedNumber):
        return float(value)
    return value.view(np.ndarray) if isinstance(value, Guarded) else value


def _largest(values, part=np.real):
    """The entry of values (a number or an array) whose part (np.real, np.imag) is largest in size; or None."""
    try:
        values = part(np.asarray(plain(values), dtype=complex))
    except (TypeError, ValueError):
        return None
    return float(values.flat[int(np.argmax(np.abs(values)))]) if values.size else None


def is_small(step, scale):
    """Whether step (a real number or array) is a numerical derivative's step for a parameter of this scale."""
    largest = _largest(step)
    return largest is not None and PERTURBATION_FLOOR * scale < abs(largest) <= PERTURBATION * scale


def _signed(label, step, imaginary=False):
    return f"{label} {'+' if step >= 0 else '-'} {abs(step):.3g}{'j' if imaginary else ''}"


def moved(label, value, reference, scale):
    """(how, kind) when value, passed where the parameter label = reference belongs, was moved by a small step.

    how: "sig + 1e-20j" (kind COMPLEX_STEP) or "sig + 0.0001" (kind FINITE_DIFFERENCE).  None when
    value is reference, or differs from it by more than a step (another argument altogether).
    """
    if is_complex(value):
        step = _largest(value, np.imag)
        return (_signed(label, step, True) if step else f"a complex {label}"), COMPLEX_STEP
    try:
        difference = np.asarray(plain(value), dtype=float) - np.asarray(reference, dtype=float)
    except (TypeError, ValueError):
        return None
    if not is_small(difference, scale):
        return None
    return _signed(label, _largest(difference)), FINITE_DIFFERENCE


def _wrap(result, watch, label):
    """result, with each plain ndarray in it viewed as a Guarded array reporting to watch."""
    if type(result) is np.ndarray and watch is not None:
        guarded = result.view(Guarded)
        guarded.watch, guarded.label = watch, label
        return guarded
    if isinstance(result, tuple):
        return tuple(_wrap(r, watch, label) for r in result)
    if isinstance(result, list):
        return [_wrap(r, watch, label) for r in result]
    return result


class Guarded(np.ndarray):
    """A real array that reports to its watch when arithmetic makes it complex or moves it by a small step.

    label: its name in the notebook ("x", "sig", "W3"), kept by the arrays computed from it;
    scale: for a parameter handed to the learner's function, the size of its case (an array
    computed from one has none: a step of the formula is not a step of the parameter).  All else
    is NumPy's: a learner's function receives the array, or 0-d array, that it stands for.
    """

    watch = None
    label = "a parameter"
    scale = None

    def __array_finalize__(self, obj):
        self.watch = getattr(obj, "watch", None)
        self.label = getattr(obj, "label", "a parameter")
        self.scale = None

    @staticmethod
    def _seen(ufunc, inputs):
        """(how, kind) when a ufunc's call computes with complex numbers or moves a parameter by a step; or None."""
        steps = (np.add, np.subtract, np.multiply)
        for mine, other in (inputs, inputs[::-1]) if len(inputs) == 2 else ():
            if ufunc in steps and isinstance(mine, Guarded) and mine.scale is not None \
                    and not isinstance(other, (Guarded, GuardedNumber)):
                if is_complex(other) and ufunc is np.multiply:
                    return f"{mine.label} times a complex number computed", COMPLEX_STEP
                if is_complex(other):
                    step = _largest(other, np.imag) * (-1 if ufunc is np.subtract and mine is inputs[0] else 1)
                    return _signed(mine.label, step, True) + " computed", COMPLEX_STEP
                if ufunc is np.multiply:
                    try:
                        change = _largest(np.asarray(other, dtype=float) - 1)
                    except (TypeError, ValueError):
                        change = None
                    if change is not None and PERTURBATION_FLOOR < abs(change) <= PERTURBATION:
                        return f"{mine.label} * {1 + change:.12g} computed", FINITE_DIFFERENCE
                elif is_small(other, mine.scale):
                    step = _largest(other) * (-1 if ufunc is np.subtract and mine is inputs[0] else 1)
                    return _signed(mine.label, step) + " computed", FINITE_DIFFERENCE
        if any(is_complex(v) for v in inputs):
            label = next(v.label for v in inputs if isinstance(v, Guarded))
            return f"arithmetic with complex numbers on {label} (np.{ufunc.__name__})", COMPLEX_STEP
        return None

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        mine = [v for v in inputs + (out or ()) if isinstance(v, Guarded)]
        watch = next((v.watch for v in mine if v.watch is not None), None)
        if watch is not None and watch.armed and method == "__call__":
            seen = self._seen(ufunc, inputs)
            if seen:
                watch.refuse(*seen)
        elif watch is not None and watch.armed and any(is_complex(v) for v in inputs):
            watch.refuse(f"arithmetic with complex numbers on {mine[0].label} (np.{ufunc.__name__}.{method})",
                         COMPLEX_STEP)
        if out is not None:
            kwargs["out"] = tuple(plain(o) for o in out)
        result = getattr(ufunc, method)(*(plain(v) for v in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result, watch, mine[0].label)

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        if self.watch is not None and self.watch.armed and is_complex(result):
            self.watch.refuse(f"complex numbers made from {self.label} (np.{func.__name__})", COMPLEX_STEP)
        if func in _NEW_ARRAYS:  # only the shape comes from the parameter: a step made this way is a step
            return result.view(np.ndarray) if isinstance(result, np.ndarray) else result
        return _wrap(result, self.watch, self.label)

    def astype(self, dtype, *args, **kwargs):
        if self.watch is not None and getattr(np.dtype(dtype), "kind", "") == "c":
            self.watch.refuse(f"a complex copy of {self.label}", COMPLEX_STEP)
        return super().astype(dtype, *args, **kwargs)

    def __complex__(self):
        if self.watch is not None:
            self.watch.refuse(f"{self.label} made complex", COMPLEX_STEP)
        return complex(self.view(np.ndarray))

    def __repr__(self):  # printed while debugging, it shows what it stands for
        return repr(self.view(np.ndarray))


#: NumPy functions that make a new array of a parameter's shape, none of its values.
_NEW_ARRAYS = frozenset((np.zeros_like, np.ones_like, np.empty_like, np.full_like))


class GuardedNumber(float):
    """A parameter that is a number (mu, sig): a float in every way, but for what it reports to its watch.

    Adding a complex number to it, multiplying it by one, making it complex, or moving it by a
    small step (see `is_small`) is refused; arithmetic gives plain floats.  (A float, not a 0-d
    array, so that round(), hashing and isinstance(sig, float) work as a learner expects.  What
    Python computes without asking it, such as 1e-20j + sig, is seen where the result meets f or x.)
    """

    def __new__(cls, value, watch, label, scale):
        number = super().__new__(cls, value)
        number.watch, number.label, number.scale = watch, label, scale
        return number

    def _check(self, other, operation, reflected=False):
        if self.watch is None or not self.watch.armed or isinstance(other, (Guarded, GuardedNumber)):
            return
        if is_complex(other):
            if operation == "*":
                self.watch.refuse(f"{self.label} times a complex number computed", COMPLEX_STEP)
            step = _largest(other, np.imag) * (-1 if operation == "-" and not reflected else 1)
            self.watch.refuse(_signed(self.label, step, True) + " computed", COMPLEX_STEP)
        if operation == "*":
            try:
                change = _largest(np.asarray(other, dtype=float) - 1)
            except (TypeError, ValueError):
                return
            if change is not None and PERTURBATION_FLOOR < abs(change) <= PERTURBATION:
                self.watch.refuse(f"{self.label} * {1 + change:.12g} computed", FINITE_DIFFERENCE)
        elif isinstance(other, (int, float, np.ndarray, list, tuple)) and is_small(other, self.scale):
            step = _largest(other) * (-1 if operation == "-" and not reflected else 1)
            self.watch.refuse(_signed(self.label, step) + " computed", FINITE_DIFFERENCE)

    def __add__(self, other):
        self._check(other, "+")
        return float.__add__(self, other)

    def __radd__(self, other):
        self._check(other, "+", True)
        return float.__radd__(self, other)

    def __sub__(self, other):
        self._check(other, "-")
        return float.__sub__(self, other)

    def __rsub__(self, other):
        self._check(other, "-", True)
        return float.__rsub__(self, other)

    def __mul__(self, other):
        self._check(other, "*")
        return float.__mul__(self, other)

    def __rmul__(self, other):
        self._check(other, "*", True)
        return float.__rmul__(self, other)

    def __complex__(self):
        if self.watch is not None:
            self.watch.refuse(f"{self.label} made complex", COMPLEX_STEP)
        return complex(float(self))


def guard(value, watch, label, scale=None):
    """value (a real number or array) for a learner's function, reporting to watch: a GuardedNumber or a Guarded copy.

    scale: for a parameter of the model, the size of its case, by which `is_small` measures steps
    (a number is always a parameter).
    """
    if np.ndim(value) == 0:
        return GuardedNumber(value, watch, label, scale)
    guarded = np.array(value, dtype=float).view(Guarded)
    guarded.watch, guarded.label, guarded.scale = watch, label, scale
    return guarded


def watched_call(function, name, *args, watch, expected, cause, sizes=None):
    """call(function, name, *args, sizes=sizes) with watch armed; fail if it saw a numerical derivative.

    expected: what the check wanted, in words; cause: the sentence that names the numerical
    derivative and what to do instead.  The failure's mistake is "<name>/numerical-derivative".
    """
    watch.armed = True
    try:
        result = call(function, name, *args, sizes=sizes)
    except CheckFailed:
        if not watch.seen:
            raise
        result = None
    finally:
        watch.armed = False
    if watch.seen:
        what, kind = watch.seen[0]
        raise failure(name, expected, f"{what}, as {kind} does", [cause], NUMERICAL_DERIVATIVE)
    return result


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

    module: the checks module, as "readonly.backprop_checks".  This module and that one are
    imported afresh first, so that what ran before in the notebook does not change the verdict.
    A failure is raised as the checks module's CheckFailed, its message first.
    """
    importlib.reload(importlib.import_module(__name__))
    checks = importlib.reload(importlib.import_module(module))
    checks.check(namespace, name, cases)
    if message:
        print(message)
