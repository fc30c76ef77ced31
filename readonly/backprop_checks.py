"""The tests of 1-Backpropagation: each Jacobian against derivatives of the cost.

The learner's Jacobian functions read the global weights W1 ... b3 of the
notebook, so a check is given the notebook's namespace (``globals()``). It
installs weights of its own, calls the function, and puts the notebook's
weights back afterwards, whatever happens.

Two independent references, both computed here from a forward pass of our own:
- central finite differences of the cost (step 1e-6), which the learner's
  Jacobian must match to a relative error of FD_TOLERANCE;
- complex-step derivatives, exact to rounding error, which a chain-rule
  Jacobian matches to EXACT_TOLERANCE and a numerical approximation does not.

A Jacobian must come from the chain rule, not from a numerical derivative,
which a complex step (or a high-order finite difference) computes as exactly:
the weights, x and y are installed as guarded arrays
(readonly.guards.Guarded), and sigma, d_sigma and network_function are
bound, for the duration of the call, to versions that refuse complex numbers
and a run of the network with a weight moved by a small step; so does
arithmetic that makes a weight complex or adds such a step to it.  That
fails the check as "<function>/numerical-derivative".

The mistakes the checks recognise, and what a learner reads when none matches, are in
readonly.backprop_mistakes.
"""
import random

import numpy as np

from readonly.backprop_mistakes import diagnose, shape_mistakes, unknown_shape
from readonly.checking import CheckFailed, failure, floats, installed, received
from readonly.gradients import central_difference, complex_step, relative_error
from readonly.guards import COMPLEX_STEP, Watch, guard, is_complex, moved, watched_call

#: The six parameters of the network, in the notebook's order (readonly.backprop trains them in it).
PARAMETERS = ("W1", "W2", "W3", "b1", "b2", "b3")
FD_STEP = 1e-6
FD_TOLERANCE = 1e-5
EXACT_TOLERANCE = 1e-12
#: The modules this one is made of, which readonly.checking.run_test imports afresh before it.
PARTS = ("readonly.backprop_mistakes",)

#: What a Jacobian seen computing a numerical derivative is told: (expected, cause).
NUMERICAL_DERIVATIVE = (
    "a Jacobian by the chain rule, from one run of the network at its weights as they are",
    "a numerical Jacobian (a complex step, or finite differences: the network run again with a weight moved) "
    "in place of the chain rule: exact or not, it is not what this exercise asks for; build J from one call of "
    "network_function(x)")


def _sigma(z):
    return 1 / (1 + np.exp(-z))


def forward(params, x):
    """The network's output a3, (2, N), for weights params (a dict) and input x, (1, N).

    Works on complex weights too, which the complex-step reference needs.
    """
    a = x
    for layer in "123":
        a = _sigma(params["W" + layer] @ a + params["b" + layer])
    return a


def cost(params, x, y):
    """Sum of squared differences over outputs and examples, divided by N = x.size."""
    difference = forward(params, x) - y
    return np.sum(difference * difference) / x.size


def random_case(n1, n2, N, seed):
    """Weights drawn as the notebook's reset_network draws them, and data of N examples."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (n1, 1), "W2": (n2, n1), "W3": (2, n2), "b1": (n1, 1), "b2": (n2, 1), "b3": (2, 1)}
    params = {name: rng.standard_normal(shape) / 2 for name, shape in shapes.items()}
    x = rng.uniform(0, 1, (1, N))
    y = rng.uniform(0.1, 0.9, (2, N))
    return params, x, y


def numerical_jacobian(params, name, x, y):
    """Central finite differences of the cost with respect to params[name]."""
    work = {key: value.copy() for key, value in params.items()}
    return central_difference(lambda: cost(work, x, y), work[name], FD_STEP)


def exact_jacobian(params, name, x, y, derivatives=None):
    """Complex-step derivatives of the cost with respect to params[name].

    derivatives: {layer: g}, layers ("1", "2", "3") whose activation should pass on g(z) where
    its derivative sigma'(z) belongs: the Jacobian that a chain rule with that mistake gives
    (a known mistake, to recognise; none by default).  A complex step through sigma(Re z) +
    i Im(z) g(Re z) carries g, not sigma', down the chain.
    """
    work = {key: value.astype(complex) for key, value in params.items()}
    derivatives = derivatives or {}

    def output():
        a = x
        for layer in "123":
            z = work["W" + layer] @ a + work["b" + layer]
            g = derivatives.get(layer)
            a = _sigma(z) if g is None else _sigma(z.real) + 1j * z.imag * g(z.real)
        return a

    return complex_step(lambda: np.sum((output() - y) ** 2) / x.size, work[name])


def _scale(weight):
    """The size of a weight matrix, by which a numerical derivative's step is measured."""
    return max(1.0, float(np.max(np.abs(weight))))


def _guarded_activation(function, label, watch):
    """function (sigma or d_sigma), refusing complex numbers (watch.refuse)."""
    def activation(z):
        if is_complex(z):
            watch.refuse(f"{label} called with complex numbers", COMPLEX_STEP)
        return function(z)

    return activation


def _learner_jacobian(namespace, name, params, x, y):
    """Call namespace[name](x, y) with params installed as the notebook's weights.

    Fails when the function computes a numerical derivative (readonly.guards.watched_call):
    it makes a weight complex, or runs network_function with a weight moved by a small step, real
    or imaginary.  Fails too when the function changes the weights, or runs network_function with
    weights other than the installed ones.  The notebook's own weights, network_function, sigma and
    d_sigma are put back afterwards.
    """
    watch = Watch()
    weights = {key: guard(value, watch, key, _scale(value)) for key, value in params.items()}
    original_forward = namespace.get("network_function")
    perturbed = []

    def untouched():
        return all(namespace.get(key) is weights[key] and np.array_equal(weights[key], params[key])
                   for key in PARAMETERS)

    def watched_forward(a0):
        for key in PARAMETERS:
            seen = moved(key, namespace.get(key), params[key], _scale(params[key]))
            if seen:
                watch.refuse(f"network_function run with {seen[0]}", seen[1])
        if not untouched():
            perturbed.append(True)
        return original_forward(a0)

    bound = {**weights, "network_function": watched_forward}
    for activation in ("sigma", "d_sigma"):
        if callable(namespace.get(activation)):
            bound[activation] = _guarded_activation(namespace[activation], activation, watch)
    with installed(namespace, bound):
        expected, cause = NUMERICAL_DERIVATIVE
        result = watched_call(namespace.get(name), name, guard(x, watch, "x"), guard(y, watch, "y"), watch=watch,
                              expected=expected, cause=cause, sizes=_sizes(params, x))
        changed = not untouched()
    if perturbed or changed:
        raise failure(
            name, "a Jacobian that only reads W1 ... b3", "a function that changes the weights",
            ["finite differences (moving a weight and calling the network again) in place of the chain rule; "
             "build J from one call of network_function(x)"], "changes-the-weights")
    return result


def _sizes(params, x):
    """{size: its name in the notebook} for the sizes of a case, where they tell each other apart."""
    names = {x.shape[1]: "N", params["W1"].shape[0]: "n1", params["W2"].shape[0]: "n2", 2: "2", 1: "1"}
    return names if len(names) == 5 else {}


def answer(namespace, name, case):
    """namespace[name] on one case (n1, n2, N, seed): its entries as a list of floats.

    This half of a check runs the learner's code; it raises CheckFailed for an answer of the
    wrong kind (shape, type, changed weights, a numerical derivative).  `judge` is the other half.
    """
    n1, n2, N, seed = case
    params, x, y = random_case(n1, n2, N, seed)
    return floats(_learner_jacobian(namespace, name, params, x, y), name, params[name[2:]].shape,
                  shape_mistakes(name, params, N), _sizes(params, x), unknown_shape(name, params))


def judge(name, case, got):
    """Raise CheckFailed unless got, a list of floats, is the right answer of name on case.

    This half runs none of the learner's code, so the grader can run it in a process of its own
    (coursetools.grading) on answers that the notebook's kernel reported.
    """
    n1, n2, N, seed = case
    params, x, y = random_case(n1, n2, N, seed)
    target = name[2:]
    got = received(got, params[target].size, name)
    where = f"on a 1-{n1}-{n2}-2 network with N = {N} examples"
    reference = numerical_jacobian(params, target, x, y).ravel().tolist()
    error = relative_error(got, reference)
    if not error < FD_TOLERANCE:
        raise failure(name, f"finite differences of the cost {where}, to a relative error below {FD_TOLERANCE:g}",
                      f"a relative error of {error:.3g}", *diagnose(
                          name, got, reference, N, lambda wrong: exact_jacobian(params, target, x, y, wrong), _sigma))
    exact = exact_jacobian(params, target, x, y).ravel().tolist()
    error = relative_error(got, exact)
    if not error < EXACT_TOLERANCE:
        raise failure(name, f"the exact derivative {where}, to a relative error below {EXACT_TOLERANCE:g}",
                      f"a relative error of {error:.3g}: close, but only as close as a numerical approximation gets",
                      ["a numerical (finite-difference) Jacobian in place of the chain rule"],
                      "numerical-approximation")


def check_case(namespace, name, case):
    """Check namespace[name] on one case (n1, n2, N, seed); raise CheckFailed if wrong."""
    judge(name, case, answer(namespace, name, case))


#: Numbers of examples the notebook's tests use: the grader's own cases never do, so a function that
#: special-cases the tests' inputs cannot know the grader's.
TESTS_N = (1, 5, 12, 20, 37)


def grader_cases(seed):
    """Cases for the grader's own call of each function (coursetools.grading), sizes and data all drawn
    from seed: n1 in (3, 5, 8), n2 in (4, 9, 10), N in 3..40, none of TESTS_N, n1, n2 or the notebook's
    sizes (1, 2, 6, 7).  No two sizes of a case are equal and none is the network's input or output
    size, so no weight matrix is square and no wrong shape fits by chance: a function's verdict and
    its mistake do not depend on the draw."""
    draw = random.Random(seed)
    cases = {}
    for number, name in enumerate(("J_b3", "J_b2", "J_W1", "J_b1")):
        cases[name] = []
        for case in range(3):
            n1, n2 = draw.choice((3, 5, 8)), draw.choice((4, 9, 10))
            N = draw.choice([n for n in range(3, 41) if n not in (*TESTS_N, n1, n2, 6, 7)])
            cases[name].append([n1, n2, N, seed + 10 * number + case])
    return cases


def check(namespace, name, cases):
    """Check namespace[name] on each case (n1, n2, N, seed); raise CheckFailed at the first wrong one."""
    try:
        for case in cases:
            check_case(namespace, name, case)
    except CheckFailed as failed:
        raise CheckFailed(str(failed), failed.mistake) from None  # a short traceback: the test cell, then the message
