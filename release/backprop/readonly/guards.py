"""A numerical derivative, seen as it is computed: the guarded parameters, and the watch they report to.

A complex step is exact to rounding, and a high-order finite difference comes within 1e-13 of
the exact derivative, so no comparison of values tells them from a derivative worked out by
hand.  What gives them away is how they are computed: the model is evaluated at a parameter
moved by a small step, imaginary or real.  While a learner's function runs, the checks hand it
its parameters as `Guarded` arrays (and numbers as `GuardedNumber`s) and bind guarded model
functions in the notebook (the Gaussian f; sigma, d_sigma and network_function), which report
to a `Watch` what only a numerical derivative does; `watched_call` then fails the check.

Calling learner code and the failures themselves are readonly.checking's; this module imports
it, and it imports nothing of this one.  Importing this module has no side effects.
"""
import numpy as np

from readonly.checking import CheckFailed, call, failure

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
