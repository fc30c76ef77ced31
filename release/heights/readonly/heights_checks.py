"""The tests of 2-FittingDistribution: each function against derivatives computed here.

A check is given the notebook's namespace (``globals()``) and the name of the
learner's function.  For the duration of a check it binds its own Gaussian
``f`` there (so that the verdict depends on the learner's cell alone, not on
a redefined model), and the steepest_step check also binds complex-step
derivatives of that Gaussian as ``dfdmu`` and ``dfdsig`` (so that a wrong
derivative costs only that derivative's points).  The notebook's own
definitions are put back afterwards, whatever happens.

A derivative must be worked out by hand, not computed numerically: the
learner's function gets x, mu and sig as guarded arrays
(readonly.guards.Guarded), and the f (and dfdmu, dfdsig) bound for it
refuse to be evaluated at a complex x, mu or sig, or at one moved by a small
step; so does arithmetic that makes x, mu or sig complex or adds such a step
to them.  That is how a complex step or a finite difference is computed, and
it fails the check as "<function>/numerical-derivative", however exact its
values.

References, all computed from the Gaussian defined here, none of them the
analytic formula the learner writes:
- dfdmu and dfdsig: central finite differences of f in mu and in sig, at
  random points x around random (mu, sig), to TOLERANCE (the messages come
  from this comparison); then complex-step derivatives, exact to rounding,
  to EXACT_TOLERANCE, which a central-difference answer does not reach (a
  complex step or a high-order difference would: the guard above catches them);
- steepest_step: minus the aggression times the gradient of
  chi^2 = |y - f|^2, on data made of random bumps (not the heights), at two
  aggressions; by central differences, then by complex steps.
The cases (sizes, seeds, aggressions) are chosen by the notebook's test cells; the mistakes the
checks recognise, and what a learner reads when none matches, are in readonly.heights_mistakes.
"""
import random

import numpy as np

from readonly.checking import CheckFailed, failure, floats, installed, received
from readonly.gradients import central_difference, complex_step, relative_error
from readonly.guards import COMPLEX_STEP, Watch, guard, is_complex, moved, plain, watched_call
from readonly.heights_mistakes import (ELEMENTWISE, NUMERICAL, NUMERICAL_DERIVATIVE, SINGLE_NUMBER,
                                       diagnose_derivative, diagnose_step, unknown_shape)

#: The region, in cm, the checks draw (mu, sig) from; readonly.heights' contour plot always shows it.
MU_RANGE = (150.0, 200.0)
SIG_RANGE = (2.0, 35.0)
FUNCTIONS = ("dfdmu", "dfdsig", "steepest_step")
#: Central differences move mu or sig by this fraction of sig.
FD_STEP = 1e-5
#: Relative error allowed against a finite-difference reference.
TOLERANCE = 1e-6
#: Relative error allowed against the exact (complex-step) references: a chain-rule
#: answer is far inside it, a finite-difference approximation outside.
EXACT_TOLERANCE = 1e-12
#: The modules this one is made of, which readonly.checking.run_test imports afresh before it.
PARTS = ("readonly.heights_mistakes",)


def gaussian(x, mu, sig):
    """The Gaussian density with mean mu and standard deviation sig, entry by entry."""
    return np.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (sig * np.sqrt(2 * np.pi))


def chi_squared(x, y, mu, sig):
    """|y - gaussian(x, mu, sig)|^2, summed over the N entries of x and y (each (N,)); works on complex mu, sig."""
    residual = y - gaussian(x, mu, sig)
    return residual @ residual


def numerical(function, mu, sig):
    """[d/dmu, d/dsig] of function(mu, sig) by central differences (steps FD_STEP * sig); shape (2,) + its shape."""
    p = np.array([mu, sig], dtype=float)
    return central_difference(lambda: function(*p), p, FD_STEP * sig)


def exact(function, mu, sig):
    """[d/dmu, d/dsig] of function(mu, sig) by complex steps: exact to rounding; shape (2,) + its shape."""
    p = np.array([mu, sig], dtype=complex)
    return complex_step(lambda: function(*p), p)


#: Which row of numerical() and exact() each derivative is.
ROW = {"dfdmu": 0, "dfdsig": 1}


def random_point(N, seed):
    """A random (mu, sig) in the contour plot's region and x, (N,), sorted, around it."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(*MU_RANGE)
    sig = rng.uniform(*SIG_RANGE)
    x = np.sort(rng.uniform(mu - 4 * sig, mu + 4 * sig, N))
    return x, mu, sig


def random_bumps(N, seed):
    """Data unlike the heights: a histogram of N bins holding two or three random bumps.

    Returns x, (N,), the bin centres, y, (N,), a density of area 1, and a
    random point (mu, sig) at which to take a step.
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(*MU_RANGE, N)
    y = np.zeros(N)
    for _ in range(rng.integers(2, 4)):
        y += rng.uniform(0.3, 1) * gaussian(x, rng.uniform(160, 190), rng.uniform(3, 12))
    y /= np.sum(y) * (x[1] - x[0])
    mu = rng.uniform(155, 195)
    sig = rng.uniform(4, 25)
    return x, y, mu, sig


def _where(mu, sig, N):
    return f"at mu = {mu:.2f}, sig = {sig:.2f} and {N} random x"


def _guarded_model(watch, x, mu, sig):
    """Our Gaussian f, which refuses (watch.refuse) an x, mu or sig other than the case's by a complex or small step."""
    def f(x_, mu_, sig_):
        for label, value, reference in (("x", x_, x), ("mu", mu_, mu), ("sig", sig_, sig)):
            if label == "x" and not is_complex(value) and np.shape(value) != np.shape(x):
                continue  # some of the x (a loop over the bars), or x shifted: not a step of x
            seen = moved(label, value, reference, sig)
            if seen:
                watch.refuse(f"f evaluated at {seen[0]}", seen[1])
        return np.asarray(gaussian(*(np.asarray(plain(v)) for v in (x_, mu_, sig_))))

    return f


def _learner_call(namespace, name, args, bound, watch, sizes):
    """namespace[name](*args), args guarded, with bound installed in the notebook and watch armed."""
    expected, cause = NUMERICAL_DERIVATIVE[name]
    with installed(namespace, bound):
        return watched_call(namespace.get(name), name, *args, watch=watch, expected=expected, cause=cause,
                            sizes=sizes)


def _guarded_parameters(watch, x, mu, sig):
    """x, mu and sig as guarded parameters of the model: steps of a fraction of sig are refused."""
    return guard(x, watch, "x", sig), guard(mu, watch, "mu", sig), guard(sig, watch, "sig", sig)


def answer_derivative(namespace, name, case):
    """namespace[name] (dfdmu or dfdsig) on one case (N, seed), with our f bound: a list of floats."""
    N, seed = case
    x, mu, sig = random_point(N, seed)
    watch = Watch()
    result = _learner_call(namespace, name, _guarded_parameters(watch, x, mu, sig),
                           {"f": _guarded_model(watch, x, mu, sig)}, watch, {N: "N"})
    if isinstance(result, (int, float, np.number)):
        raise failure(name, f"an array of shape ({N},), one entry per x", "a single number", [SINGLE_NUMBER],
                      "a-single-number")
    return floats(result, name, (N,), {(): ("a-single-number", SINGLE_NUMBER)}, {N: "N"}, unknown_shape(name))


def judge_derivative(name, case, got):
    """Raise CheckFailed unless got, a list of floats, is the derivative name on case (N, seed)."""
    N, seed = case
    x, mu, sig = random_point(N, seed)
    got = received(got, N, name)
    model = lambda m, s: gaussian(x, m, s)  # noqa: E731
    gradient = numerical(model, mu, sig)
    want = gradient[ROW[name]].tolist()
    error = relative_error(got, want)
    if not error < TOLERANCE:
        raise failure(name, f"finite differences of f {_where(mu, sig, N)}, to a relative error below {TOLERANCE:g}",
                      f"a relative error of {error:.3g}",
                      *diagnose_derivative(name, got, want, gaussian(x, mu, sig), sig, gradient[0]))
    error = relative_error(got, exact(model, mu, sig)[ROW[name]].tolist())
    if not error < EXACT_TOLERANCE:
        raise failure(name, f"the exact derivative {_where(mu, sig, N)}, to a relative error below "
                      f"{EXACT_TOLERANCE:g}", f"a relative error of {error:.3g}: close, but only as close as a "
                      "numerical approximation gets", [NUMERICAL], "numerical-approximation")


def _exact_derivatives(watch):
    """dfdmu and dfdsig by complex steps, bound in the notebook while steepest_step is checked.

    Like f, they refuse complex arguments (watch.refuse).
    """
    def derivative(row, name):
        def d(x, mu, sig):
            if any(is_complex(value) for value in (x, mu, sig)):
                watch.refuse(f"{name} evaluated at complex numbers", COMPLEX_STEP)
            x = np.asarray(x, dtype=float)
            return exact(lambda m, s: gaussian(x, m, s), plain(mu), plain(sig))[row]
        return d

    return {"dfdmu": derivative(0, "dfdmu"), "dfdsig": derivative(1, "dfdsig")}


def _learner_step(namespace, x, y, mu, sig, aggression):
    """namespace["steepest_step"](x, y, mu, sig, aggression) with our f, dfdmu and dfdsig bound."""
    watch = Watch()
    bound = {"f": _guarded_model(watch, x, mu, sig), **_exact_derivatives(watch)}
    guarded_x, guarded_mu, guarded_sig = _guarded_parameters(watch, x, mu, sig)
    arguments = (guarded_x, guard(y, watch, "y"), guarded_mu, guarded_sig, aggression)
    try:
        return _learner_call(namespace, "steepest_step", arguments, bound, watch, {len(x): "N", 2: "2"})
    except CheckFailed as error:
        if "sequence" in str(error) or "inhomogeneous" in str(error):
            raise failure(
                "steepest_step", "two numbers, dchi2/dmu and dchi2/dsig, to put in J",
                f"an error building J: {str(error).splitlines()[0].split(': ', 1)[-1]}",
                [f"{ELEMENTWISE}: an entry-by-entry product leaves one number per bar"],
                "elementwise-for-dot") from None
        raise


def answer_step(namespace, case):
    """steepest_step on one case (N, seed, aggression), at the aggression and twice it: 4 floats."""
    N, seed, aggression = case
    x, y, mu, sig = random_bumps(N, seed)
    got = []
    for factor in (aggression, 2 * aggression):
        got += floats(_learner_step(namespace, x, y, mu, sig, factor), "steepest_step", (2,),
                      {(2, N): ("elementwise-for-dot", f"{ELEMENTWISE}, not an array of {N}")}, {N: "N", 2: "2"},
                      unknown_shape("steepest_step"))
    return got


def judge_step(case, got):
    """Raise CheckFailed unless got holds the right steps for case (N, seed, aggression).

    The step must be -aggression * J for the finite-difference J of chi^2, at
    this aggression and at twice it (a step proportional to the aggression).
    """
    N, seed, aggression = case
    x, y, mu, sig = random_bumps(N, seed)
    both = received(got, 4, "steepest_step")
    model = lambda m, s: chi_squared(x, y, m, s)  # noqa: E731
    gradient, exact_gradient = numerical(model, mu, sig), exact(model, mu, sig)
    where = f"for data of {N} bins with random bumps, at mu = {mu:.2f}, sig = {sig:.2f}"
    for factor, got in ((aggression, both[:2]), (2 * aggression, both[2:])):
        want = (-factor * gradient).tolist()
        scale = max(abs(w) for w in want)
        errors = [abs(g - w) / max(abs(w), 1e-3 * scale) for g, w in zip(got, want)]
        if not max(errors) < 1e-5:
            raise failure("steepest_step",
                          f"-aggression * J = [{want[0]:.6g}, {want[1]:.6g}] with aggression {factor:g} {where}",
                          f"[{got[0]:.6g}, {got[1]:.6g}]",
                          *diagnose_step(got, want, both, factor, aggression, N, TOLERANCE))
        error = relative_error(got, (-factor * exact_gradient).tolist())
        if not error < EXACT_TOLERANCE:
            raise failure("steepest_step", f"the exact step {where}, to a relative error below {EXACT_TOLERANCE:g}",
                          f"a relative error of {error:.3g}: close, but only as close as a numerical "
                          "approximation gets", [NUMERICAL + " for dchi2/dsig"], "numerical-approximation")


def answer(namespace, name, case):
    """The learner's side of a check: namespace[name]'s answer on case, as a list of floats.

    It raises CheckFailed for an answer of the wrong kind; `judge` is the other half, which
    runs none of the learner's code (so the grader can run it in a process of its own).
    """
    return answer_step(namespace, case) if name == "steepest_step" else answer_derivative(namespace, name, case)


def judge(name, case, got):
    """Raise CheckFailed unless got, a list of floats, is the right answer of name on case."""
    if name == "steepest_step":
        judge_step(case, got)
    else:
        judge_derivative(name, case, got)


#: Numbers of points the notebook's tests use: the grader's own cases never do, so a function that
#: special-cases the tests' inputs cannot know the grader's.
TESTS_N = (1, 7, 13, 40, 100, 250)


def grader_cases(seed):
    """Cases for the grader's own call of each function (coursetools.grading), sizes and data all drawn
    from seed: N in 3..60, none of TESTS_N."""
    draw = random.Random(seed)
    sizes = [n for n in range(3, 61) if n not in TESTS_N]
    return {"dfdmu": [[draw.choice(sizes), seed + case] for case in range(2)],
            "dfdsig": [[draw.choice(sizes), seed + 10 + case] for case in range(2)],
            "steepest_step": [[draw.choice(sizes), seed + 20, 0.7]]}


def check(namespace, name, cases):
    """Check namespace[name] on each case; raise CheckFailed at the first wrong one.

    name: "dfdmu" or "dfdsig", with cases (N, seed); or "steepest_step", with
    cases (N, seed, aggression).
    """
    if name not in FUNCTIONS:
        raise ValueError(f"no check for {name!r}; the checked functions are {FUNCTIONS}")
    try:
        for case in cases:
            judge(name, case, answer(namespace, name, case))
    except CheckFailed as failed:
        raise CheckFailed(str(failed), failed.mistake) from None  # a short traceback: the test cell, then the message
