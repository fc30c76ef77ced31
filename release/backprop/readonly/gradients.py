"""The numerical references every check compares with, and how far apart two answers are.

Central differences are the first oracle (their error is stated with them); complex steps the
second, exact to rounding, which a central difference cannot match (a complex step, or a
high-order finite difference, can: the checks catch those by how they are computed, see
readonly.guards.Watch).  Both take a function that reads an array in place, so the same helper
differentiates a network's cost with respect to a weight matrix and a Gaussian with respect to
(mu, sig).  Importing this module has no side effects.
"""
import numpy as np


def relative_error(got, want):
    """Largest entry-wise difference over the largest entry of want (lists of floats)."""
    worst = max((abs(g - w) for g, w in zip(got, want, strict=True)), default=0.0)
    scale = max((abs(w) for w in want), default=0.0)
    return worst / scale if scale > 0 else worst


def central_difference(function, array, step):
    """Derivative of function() with respect to each entry of array, by central differences.

    function reads array and returns a number or an array; each entry of array is moved by
    +step and -step in place and put back.  Returns an array of shape
    array.shape + the shape of function().  Its error is of order step**2 times the third
    derivative, plus rounding of order 1e-16 / step: about 1e-10 relative for the steps used here.
    """
    rows = []
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        above = np.asarray(function())
        array[index] = original - step
        below = np.asarray(function())
        array[index] = original
        rows.append((above - below) / (2 * step))
    return np.array(rows).reshape(array.shape + np.shape(rows[0]))


def complex_step(function, array, step=1e-30):
    """Derivative of the real-analytic function() with respect to each entry of a complex array.

    function reads array and returns a number or an array; shape as central_difference's.
    Exact to rounding error (no subtraction of nearby values), which makes it an
    independent reference that a central-difference approximation cannot match.
    """
    rows = []
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + 1j * step
        rows.append(np.imag(function()) / step)
        array[index] = original
    return np.array(rows).reshape(array.shape + np.shape(rows[0]))
