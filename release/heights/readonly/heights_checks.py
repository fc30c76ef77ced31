"""The tests of 2-FittingDistribution: each function against derivatives computed here.

A check is given the notebook's namespace (``globals()``) and the name of the
learner's function.  For the duration of a check it binds its own Gaussian
``f`` there (so that the verdict depends on the learner's cell alone, not on
a redefined model), and the steepest_step check also binds complex-step
derivatives of that Gaussian as ``dfdmu`` and ``dfdsig`` (so that a wrong
derivative costs only that derivative's points).  The notebook's own
definitions are put back afterwards, whatever happens.

References, all computed from the Gaussian defined here, none of them the
analytic formula the learner writes:
- dfdmu and dfdsig: central finite differences of f in mu and in sig, at
  random points x around random (mu, sig), to TOLERANCE (the messages come
  from this comparison); then complex-step derivatives, exact to rounding,
  to EXACT_TOLERANCE, which a finite-difference answer does not reach;
- steepest_step: minus the aggression times the gradient of
  chi^2 = |y - f|^2, on data made of random bumps (not the heights), at two
  aggressions; by central differences, then by complex steps.
The cases (sizes, seeds, aggressions) are chosen by the notebook's test cells.
"""
import numpy as np

from readonly.checking import (
    CheckFailed,
    call,
    failure,
    floats,
    installed,
    received,
    relative_error,
    scaled_match,
)

FUNCTIONS = ("dfdmu", "dfdsig", "steepest_step")
#: Central differences move mu or sig by this fraction of sig.
FD_STEP = 1e-5
#: Relative error allowed against a finite-difference reference.
TOLERANCE = 1e-6
#: Random (mu, sig) are drawn from the region the notebook's contour plot shows.
MU_RANGE = (150.0, 200.0)
SIG_RANGE = (2.0, 35.0)

#: Likely causes of wrong values, per function, most common first.
CAUSES = {
    "dfdmu": [
        "the power of sig in the factor: differentiate the exponent -(x - mu)**2 / (2 sig**2) in mu",
        "a sign: by the chain rule, the derivative of (x - mu)**2 in mu is -2 (x - mu)",
        "f itself written into `factor`: the given return line already multiplies by f(x, mu, sig)",
    ],
    "dfdsig": [
        "a dropped term: sig appears twice in f, in the prefactor 1/sig and in the exponent; "
        "by the product rule each gives a term",
        "the power of sig in one of the terms",
        "a sign of one of the two terms",
    ],
    "steepest_step": [
        "the second entry of the Jacobian is dchi2/dsig, the dot product of -2 (y - f) with dfdsig(x, mu, sig)",
        "dfdmu where dfdsig is meant",
        "the factor -2 from the derivative of the square",
    ],
}


def gaussian(x, mu, sig):
    """The Gaussian density with mean mu and standard deviation sig, entry by entry."""
    return np.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (sig * np.sqrt(2 * np.pi))


def fd_dfdmu(x, mu, sig):
    """Central finite difference of gaussian in mu; shape of x."""
    h = FD_STEP * sig
    return (gaussian(x, mu + h, sig) - gaussian(x, mu - h, sig)) / (2 * h)


def fd_dfdsig(x, mu, sig):
    """Central finite difference of gaussian in sig; shape of x."""
    h = FD_STEP * sig
    return (gaussian(x, mu, sig + h) - gaussian(x, mu, sig - h)) / (2 * h)


REFERENCES = {"dfdmu": fd_dfdmu, "dfdsig": fd_dfdsig}

#: Relative error allowed against the exact (complex-step) references: a chain-rule
#: answer is far inside it, a finite-difference approximation outside.
EXACT_TOLERANCE = 1e-12
COMPLEX_STEP = 1e-30


def exact_dfdmu(x, mu, sig):
    """The derivative of gaussian in mu by a complex step: exact to rounding; shape of x."""
    return gaussian(x, mu + 1j * COMPLEX_STEP, sig).imag / COMPLEX_STEP


def exact_dfdsig(x, mu, sig):
    """The derivative of gaussian in sig by a complex step: exact to rounding; shape of x."""
    return gaussian(x, mu, sig + 1j * COMPLEX_STEP).imag / COMPLEX_STEP


EXACT = {"dfdmu": exact_dfdmu, "dfdsig": exact_dfdsig}


def exact_gradient(x, y, mu, sig):
    """[dchi2/dmu, dchi2/dsig] by complex steps: exact to rounding; shape (2,)."""
    def chi2(mu, sig):
        residual = y - gaussian(x, mu, sig)
        return residual @ residual

    return np.array([chi2(mu + 1j * COMPLEX_STEP, sig).imag, chi2(mu, sig + 1j * COMPLEX_STEP).imag]) / COMPLEX_STEP


NUMERICAL = "a numerical (finite-difference) derivative in place of the one worked out by hand"


def chi_squared(x, y, mu, sig):
    """|y - gaussian(x, mu, sig)|^2, summed over the N entries of x and y (each (N,))."""
    residual = y - gaussian(x, mu, sig)
    return float(residual @ residual)


def fd_gradient(x, y, mu, sig):
    """[dchi2/dmu, dchi2/dsig] by central finite differences; shape (2,)."""
    h = FD_STEP * sig
    return np.array([
        (chi_squared(x, y, mu + h, sig) - chi_squared(x, y, mu - h, sig)) / (2 * h),
        (chi_squared(x, y, mu, sig + h) - chi_squared(x, y, mu, sig - h)) / (2 * h),
    ])


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


def _derivative_causes(name, got, want, x, mu, sig):
    """Likely causes for got, the learner's entries, differing from want, the reference.

    Mistakes are recognised by how far got is from the finite-difference
    reference, so no analytic derivative is written in this module.
    """
    f = gaussian(x, mu, sig)
    reference = np.array(want)
    if name == "dfdmu":
        known = [
            (-reference, "a sign: by the chain rule, the derivative of (x - mu)**2 in mu is -2 (x - mu)"),
            (reference * sig, "the power of sig: the factor has one power of sig too few"),
            (reference / sig, "the power of sig: the factor has one power of sig too many"),
            (reference * f, "f itself written into `factor`: the given return line already multiplies by f"),
        ]
    else:
        exponent_term = reference + f / sig  # the term the exponent of f contributes
        known = [
            (exponent_term, "a dropped term: the prefactor 1/sig of f contributes a term -f/sig"),
            (-f / sig, "a dropped term: the exponent of f depends on sig too, and contributes a term"),
            (reference + 2 * f / sig, "a sign: the prefactor 1/sig of f contributes -f/sig"),
            (-reference, "both signs are flipped"),
            (exponent_term * sig - f / sig, "the power of sig in the exponent's term: one power too few"),
            (exponent_term / sig - f / sig, "the power of sig in the exponent's term: one power too many"),
            (exponent_term - f / sig ** 2, "the power of sig in the prefactor's term: the derivative of 1/sig is -1/sig**2, times sig from f"),
            (fd_dfdmu(x, mu, sig), "the derivative with respect to mu where sig is meant"),
        ]
    for form, cause in known:
        if relative_error(got, form.tolist()) < 1e-4:
            return [cause]
    return CAUSES[name]


def answer_derivative(namespace, name, case):
    """namespace[name] (dfdmu or dfdsig) on one case (N, seed), with our f bound: a list of floats."""
    N, seed = case
    x, mu, sig = random_point(N, seed)
    with installed(namespace, {"f": gaussian}):
        result = call(namespace.get(name), name, x.copy(), mu, sig)
    shape_causes = [
        "a sum over the points: the derivative has one entry per x, like f itself",
        "`@` (a dot product, one number) where `*` (entry by entry) is meant",
    ]
    if isinstance(result, (int, float, np.number)):
        raise CheckFailed(failure(name, f"an array of shape ({N},), one entry per x", "a single number",
                                  shape_causes))
    return floats(result, name, (N,), shape_causes)


def judge_derivative(name, case, got):
    """Raise CheckFailed unless got, a list of floats, is the derivative name on case (N, seed)."""
    N, seed = case
    x, mu, sig = random_point(N, seed)
    got = received(got, N, name)
    want = REFERENCES[name](x, mu, sig).tolist()
    error = relative_error(got, want)
    if not error < TOLERANCE:
        causes = _derivative_causes(name, got, want, x, mu, sig)
        raise CheckFailed(failure(
            name, f"finite differences of f {_where(mu, sig, N)}, to a relative error below {TOLERANCE:g}",
            f"a relative error of {error:.3g}", causes,
        ))
    error = relative_error(got, EXACT[name](x, mu, sig).tolist())
    if not error < EXACT_TOLERANCE:
        raise CheckFailed(failure(
            name, f"the exact derivative {_where(mu, sig, N)}, to a relative error below {EXACT_TOLERANCE:g}",
            f"a relative error of {error:.3g}: close, but only as close as a numerical approximation gets",
            [NUMERICAL],
        ))


def _learner_step(namespace, x, y, mu, sig, aggression):
    """namespace["steepest_step"](x, y, mu, sig, aggression) with our f, dfdmu and dfdsig bound."""
    ours = {"f": gaussian, "dfdmu": exact_dfdmu, "dfdsig": exact_dfdsig}
    with installed(namespace, ours):
        try:
            return call(namespace.get("steepest_step"), "steepest_step", x.copy(), y.copy(), mu, sig, aggression)
        except CheckFailed as error:
            if "sequence" in str(error) or "inhomogeneous" in str(error):
                raise CheckFailed(failure(
                    "steepest_step", "two numbers, dchi2/dmu and dchi2/dsig, to put in J",
                    f"an error building J: {str(error).split(': ', 1)[-1]}",
                    ["`*` where `@` is meant: -2 (y - f) * dfdsig(...) is an array of one entry per bar, "
                     "while the dot product -2 (y - f) @ dfdsig(...) sums over the bars to one number"],
                )) from None
            raise


def _step_causes(got, want):
    """Likely causes for a step got, (2,), differing from want, both lists of floats."""
    if relative_error(got[:1], want[:1]) >= TOLERANCE:
        return ["the first entry of J is given: put back the given line for dchi2/dmu"]
    second = got[1]
    candidates = [
        (-want[1], "a sign: dchi2/dsig = -2 (y - f) @ dfdsig(x, mu, sig)"),
        (want[1] / 2, "the factor 2: the derivative of the square (y - f)**2 is -2 (y - f) times df"),
        (want[0], "dfdmu where dfdsig is meant: the second entry is the derivative with respect to sig"),
        (0.0, "the second entry is zero: compute dchi2/dsig"),
    ]
    for value, cause in candidates:
        if abs(second - value) <= 1e-4 * max(abs(value), abs(want[1]), 1e-300):
            return [cause]
    return CAUSES["steepest_step"]


def answer_step(namespace, case):
    """steepest_step on one case (N, seed, aggression), at the aggression and twice it: 4 floats."""
    N, seed, aggression = case
    x, y, mu, sig = random_bumps(N, seed)
    got = []
    for factor in (aggression, 2 * aggression):
        got += floats(_learner_step(namespace, x, y, mu, sig, factor), "steepest_step", (2,), [
            "`*` where `@` is meant in the Jacobian: each entry must be one number, a dot product over "
            f"the bars, not an array of {N} (that gives shape (2, {N}))",
            "J built with more or other entries than [dchi2/dmu, dchi2/dsig]",
        ])
    return got


def judge_step(case, got):
    """Raise CheckFailed unless got holds the right steps for case (N, seed, aggression).

    The step must be -aggression * J for the finite-difference J of chi^2, at
    this aggression and at twice it (a step proportional to the aggression).
    """
    N, seed, aggression = case
    x, y, mu, sig = random_bumps(N, seed)
    both = received(got, 4, "steepest_step")
    gradient = fd_gradient(x, y, mu, sig)
    exact = exact_gradient(x, y, mu, sig)
    where = f"for data of {N} bins with random bumps, at mu = {mu:.2f}, sig = {sig:.2f}"
    for factor, got in ((aggression, both[:2]), (2 * aggression, both[2:])):
        want = (-factor * gradient).tolist()
        scale = max(abs(w) for w in want)
        errors = [abs(g - w) / max(abs(w), 1e-3 * scale) for g, w in zip(got, want)]
        if not max(errors) < 1e-5:
            if factor != aggression and scaled_match(got, want, 0.5, 1e-4):
                causes = ["the step does not grow with the aggression: return -aggression * J"]
            else:
                causes = _step_causes(got, want)
            raise CheckFailed(failure(
                "steepest_step",
                f"-aggression * J = [{want[0]:.6g}, {want[1]:.6g}] with aggression {factor:g} {where}",
                f"[{got[0]:.6g}, {got[1]:.6g}]", causes,
            ))
        error = relative_error(got, (-factor * exact).tolist())
        if not error < EXACT_TOLERANCE:
            raise CheckFailed(failure(
                "steepest_step", f"the exact step {where}, to a relative error below {EXACT_TOLERANCE:g}",
                f"a relative error of {error:.3g}: close, but only as close as a numerical approximation gets",
                [NUMERICAL + ": dchi2/dsig is -2 (y - f) @ dfdsig(x, mu, sig)"],
            ))


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


def grader_cases(seed):
    """Cases for the grader's own call of each function (coursetools.grading), drawn from seed."""
    return {"dfdmu": [[9, seed], [25, seed + 1]], "dfdsig": [[9, seed], [25, seed + 1]],
            "steepest_step": [[12, seed, 0.7]]}


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
        raise CheckFailed(str(failed)) from None  # a short traceback: the test cell, then the message
