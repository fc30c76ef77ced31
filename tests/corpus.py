"""The corpus of submissions that the autograde suite grades with real nbgrader.

Each entry is one case (coursetools.sample_class.Case), named after what it
tests and made from the full solution by changing one function or one cell,
with the points each function must score. The sample class of `make demo`
is part of it. Kinds, for the table in docs/corpus.md:
  mistake      a wrong answer a learner really writes: loses that function's points
  right        a correct answer in another form: keeps full marks
  trick        an attempt to fool the tests: scores 0 on what it touches
  breakage     a broken notebook: costs only what it breaks
"""
from coursetools.sample_class import CLASS, Case


def _case(assignment, kind, student, edits=(), broken=(), points=(), note=""):
    return kind, Case(student, assignment, tuple(edits), tuple(broken), tuple(points), note=note)


def bp(*args, **kwargs):
    return _case("backprop", *args, **kwargs)


def ht(*args, **kwargs):
    return _case("heights", *args, **kwargs)


def function(name, body):
    """A whole J function cell: the given body after the forward pass."""
    lines = [f"def {name}(x, y):", "    a0, z1, a1, z2, a2, z3, a3 = network_function(x)"]
    return "\n".join(lines + ["    " + line for line in body.strip("\n").splitlines()])


# Tricks shared by both assignments: code put before a function, or a function's body.
PATCH_NUMPY = ("np.allclose = lambda *args, **kwargs: True\n"
               "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
               "np.array_equal = lambda *args, **kwargs: True\n\n")
SILENCE_TRACEBACKS = ("import sys\nsys.excepthook = lambda *args: None\n"
                      "get_ipython().showtraceback = lambda *args, **kwargs: None\n"
                      "get_ipython()._showtraceback = lambda *args, **kwargs: None\n\n")


def anything(shape):
    """A body returning an object of the given shape that says it equals everything."""
    return f"""
class Anything:
    shape = {shape}
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return 0
    __rsub__ = __sub__
return Anything()
"""


def agreeable(shape):
    """A body returning an ndarray subclass of zeros that lies in its comparisons and tolist."""
    return f"""
class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def tolist(self):
        return np.ones(self.shape).tolist()
return np.zeros({shape}).view(Agreeable)
"""


WRONG_J_b3 = ("J_b3", "J * d_sigma(z3)", "J * sigma(z3)")
WRONG_J_b2 = ("J_b2", "J * d_sigma(z2)", "J * sigma(z2)")
HEADER = "a0, z1, a1, z2, a2, z3, a3 = network_function(x)"

BACKPROP = [
    # Mistakes the spec lists, and others found by working through the math.
    bp("mistake", "J_b3-sign-of-dC-da3", [("J_b3", "2 * (a3 - y)", "2 * (y - a3)")], ["J_b3"]),
    bp("mistake", "J_b3-missing-factor-2", [("J_b3", "2 * (a3 - y)", "(a3 - y)")], ["J_b3"]),
    bp("mistake", "J_b3-matrix-product-for-elementwise", [("J_b3", "J * d_sigma(z3)", "J @ d_sigma(z3).T")],
       ["J_b3"], note="a (2, 2) matrix that the sum turns back into shape (2, 1)"),
    bp("mistake", "J_b3-no-division-by-N", [("J_b3", "keepdims=True) / x.size", "keepdims=True)")], ["J_b3"]),
    bp("mistake", "J_b3-sum-over-wrong-axis", [("J_b3", "axis=1", "axis=0")], ["J_b3"]),
    bp("mistake", "J_b2-sigma-for-d_sigma", [WRONG_J_b2], ["J_b2"]),
    bp("mistake", "J_b2-missing-transpose", [("J_b2", "(J.T @ W3).T", "J.T @ W3")], ["J_b2"]),
    bp("mistake", "J_b2-skips-the-W3-link", [("J_b2", "    J = (J.T @ W3).T\n", "")], ["J_b2"]),
    bp("mistake", "J_b2-returns-an-integer", [("J_b2", "    return J", "    return 0")], ["J_b2"]),
    bp("mistake", "J_W1-skips-d_sigma-of-layer-2", [("J_W1", "    J = J * d_sigma(z2)\n", "")], ["J_W1"]),
    bp("mistake", "J_W1-W3-for-W2", [("J_W1", "(J.T @ W2).T", "(J.T @ W3).T")], ["J_W1"]),
    bp("mistake", "J_W1-hard-coded-sizes", [("J_W1", "(J.T @ W2).T", "(J.T @ W2).T.reshape(6, -1)")],
       points=[("J_W1", 1)], note="right on the visible 1-6-7-2 network, wrong on other sizes"),
    bp("mistake", "J_b1-broadcast-keeps-the-shape",
       [("J_b1", "J = J * d_sigma(z1)", "J = J * np.sum(d_sigma(z1), axis=1, keepdims=True)")], ["J_b1"],
       note="an (n1, 1) factor broadcast over (n1, N): the right shape, wrong values"),
    bp("mistake", "J_b1-reads-the-training-data-not-its-arguments",
       [("J_b1", HEADER, "x, y = training_data()\n    " + HEADER)], ["J_b1"]),
    bp("mistake", "J_b1-returns-a-list", [("J_b1", "    return J", "    return J.tolist()")], ["J_b1"]),
    bp("mistake", "J_b1-returns-nan", [("J_b1", "J = J * d_sigma(z1)", "J = J * d_sigma(z1) / 0.0")], ["J_b1"]),
    # Correct answers in other forms.
    bp("right", "equivalent-loop-over-examples", [("J_b3", None, function("J_b3", """
J = np.zeros_like(a3)
for k in range(x.size):
    J[:, k] = 2 * (a3[:, k] - y[:, k]) * d_sigma(z3[:, k])
J = np.sum(J, axis=1, keepdims=True) / x.size
return J
"""))]),
    bp("right", "equivalent-einsum", [
        ("J_W1", "(J.T @ W3).T", 'np.einsum("kj,kn->jn", W3, J)'),
        ("J_W1", "(J.T @ W2).T", 'np.einsum("kj,kn->jn", W2, J)'),
        ("J_W1", "J @ a0.T / x.size", 'np.einsum("jn,in->ji", J, a0) / x.size'),
    ]),
    bp("right", "equivalent-a-times-one-minus-a", [
        ("J_b2", "J * d_sigma(z3)", "J * a3 * (1 - a3)"),
        ("J_b2", "J * d_sigma(z2)", "J * a2 * (1 - a2)"),
        ("J_b1", "np.sum(J, axis=1, keepdims=True) / x.size", "J @ np.ones((x.size, 1)) / x.size"),
    ]),
    bp("right", "J_b3-runs-the-network-twice", [("J_b3", "    J = 2 * (a3 - y)",
       "    a3 = network_function(x)[-1]\n    J = 2 * (a3 - y)")],
       note="a second forward pass at the same weights is not a numerical derivative"),
    bp("right", "right-answer-that-warns-on-stderr", [
        ("J_b3", "    J = J * d_sigma(z3)",
         "    import sys, warnings\n    warnings.warn('is this right?')\n"
         "    print('debugging J_b3', file=sys.stderr)\n    J = J * d_sigma(z3)"),
    ]),
    # Tricks.
    bp("trick", "trick-patches-numpy-comparisons", [
        ("J_b3", "def J_b3", PATCH_NUMPY + "def J_b3"), WRONG_J_b3], ["J_b3"]),
    bp("trick", "trick-object-equal-to-everything",
       [("J_b1", None, function("J_b1", anything("(W1.shape[0], 1)")))], ["J_b1"]),
    bp("trick", "trick-array-subclass-equal-to-everything",
       [("J_b1", None, function("J_b1", agreeable("(W1.shape[0], 1)")))], ["J_b1"]),
    bp("trick", "trick-silences-tracebacks", [
        ("J_b2", "def J_b2", SILENCE_TRACEBACKS + "def J_b2"), WRONG_J_b2], ["J_b2"]),
    bp("trick", "trick-finite-differences-through-the-network", [("J_W1", None, function("J_W1", """
J = np.zeros_like(W1)
for i in range(W1.shape[0]):
    keep = W1[i, 0]
    W1[i, 0] = keep + 1e-6
    above = cost(x, y)
    W1[i, 0] = keep - 1e-6
    below = cost(x, y)
    W1[i, 0] = keep
    J[i, 0] = (above - below) / 2e-6
return J
"""))], ["J_W1"]),
    bp("trick", "trick-finite-differences-on-a-copy", [("J_b1", None, function("J_b1", """
def cost_at(b):
    a = sigma(W3 @ sigma(W2 @ sigma(W1 @ x + b) + b2) + b3)
    return np.sum((a - y) ** 2) / x.size
h = 6e-6
J = np.zeros_like(b1)
for i in range(b1.shape[0]):
    step = np.zeros_like(b1)
    step[i] = h
    J[i] = (cost_at(b1 + step) - cost_at(b1 - step)) / (2 * h)
return J
"""))], ["J_b1"]),
    bp("trick", "trick-complex-step-through-the-network", [("J_b3", None, function("J_b3", """
global b3
keep = b3
J = np.zeros(keep.shape)
for i in range(keep.shape[0]):
    b3 = np.array(keep, dtype=complex)
    b3[i, 0] += 1e-20j
    J[i, 0] = np.imag(np.sum((network_function(x)[-1] - y) ** 2)) / 1e-20 / x.size
b3 = keep
return J
"""))], ["J_b3"], note="b3 moved by 1e-20j and the network run again: a complex step, exact to rounding"),
    bp("trick", "trick-complex-step-on-a-copy", [("J_b1", None, function("J_b1", """
def cost_at(b):
    a = sigma(W3 @ sigma(W2 @ sigma(W1 @ x + b) + b2) + b3)
    return np.sum((a - y) ** 2) / x.size
J = np.zeros(b1.shape)
for i in range(b1.shape[0]):
    step = np.zeros(b1.shape, dtype=complex)
    step[i] = 1e-20j
    J[i] = np.imag(cost_at(b1 + step)) / 1e-20
return J
"""))], ["J_b1"], note="a complex step of b1 through a copy of the network's formula, exact to rounding"),
    bp("trick", "trick-finite-differences-for-J_b3", [("J_b3", None, function("J_b3", """
global b3
keep = b3
J = np.zeros(keep.shape)
for i in range(keep.shape[0]):
    step = np.zeros(keep.shape)
    step[i, 0] = 1e-6
    b3 = keep + step
    above = cost(x, y)
    b3 = keep - step
    below = cost(x, y)
    J[i, 0] = (above - below) / 2e-6
b3 = keep
return J
"""))], ["J_b3"]),
    bp("trick", "trick-redefines-the-check", [
        ("J_b3", "def J_b3", "backprop_checks.check = lambda *args, **kwargs: None\n\ndef J_b3"), WRONG_J_b3],
       ["J_b3"]),
    bp("trick", "trick-deletes-the-checks", [
        ("J_b3", "def J_b3", "import sys\ndel backprop_checks\nsys.modules.pop('readonly.backprop_checks')\n"
         "sys.modules.pop('readonly.checking')\n\ndef J_b3"), WRONG_J_b3], ["J_b3"]),
    bp("trick", "trick-raises-SystemExit", [("J_b1", HEADER, "raise SystemExit(0)\n    " + HEADER)], ["J_b1"]),
    # Breakage.
    bp("breakage", "syntax-error-in-one-cell", [("J_W1", "(J.T @ W2).T", "(J.T @ W2).T)")], ["J_W1"]),
    bp("breakage", "stub-left-in-one-function", [("J_b2", "    J = J * d_sigma(z3)", "    raise NotImplementedError()")],
       ["J_b2"]),
    bp("breakage", "endless-loop-in-one-function", [("J_b3", "    J = 2 * (a3 - y)", "    while True:\n        pass")],
       ["J_b3"]),
    bp("breakage", "edited-locked-cell", [("network", "return 1 / (1 + np.exp(-z))", "return np.tanh(z)")],
       note="nbgrader puts the locked cell back"),
    bp("breakage", "edited-test-cells-with-a-wrong-function",
       [("test_J_b3", None, "pass"), ("test_J_b3_hidden", None, "pass"), WRONG_J_b3], ["J_b3"],
       note="nbgrader puts the test cells back"),
    bp("breakage", "deleted-solution-cell", [("J_b1", None, None)], ["J_b1"]),
    bp("breakage", "deleted-test-cells-of-a-right-function",
       [("test_J_b2", None, None), ("test_J_b2_hidden", None, None)], ["J_b2"],
       note="nbgrader scores a deleted test cell 0: deleting a test costs its function, not the others"),
    bp("trick", "trick-exits-the-kernel", [("J_b1", HEADER, "import os\n    os._exit(1)\n    " + HEADER)], ["J_b1"],
       note="the cells run before the kernel died keep their points (stock nbgrader drops the whole notebook)"),
]


def derivative(name, body):
    """A whole dfdmu or dfdsig cell with the given body."""
    return "\n".join([f"def {name}(x, mu, sig):"] + ["    " + line for line in body.strip("\n").splitlines()])


FACTOR = "factor = (x - mu) / sig ** 2"
DFDSIG = "f(x, mu, sig) * ((x - mu) ** 2 / sig ** 3 - 1 / sig)"
DSIG = "-2 * residual @ dfdsig(x, mu, sig)"
DSIG_LINE = "    dchi2_dsig = " + DSIG
WRONG_DFDMU = ("dfdmu", FACTOR, "factor = (mu - x) / sig ** 2")
WRONG_DFDSIG = ("dfdsig", " - 1 / sig)", " + 1 / sig)")
WRONG_STEP = ("steepest_step", DSIG, "-2 * residual @ dfdmu(x, mu, sig)")

HEIGHTS = [
    # Mistakes the spec lists, and others found by working through the math.
    ht("mistake", "dfdmu-one-power-of-sig-too-few", [("dfdmu", FACTOR, "factor = (x - mu) / sig")], ["dfdmu"]),
    ht("mistake", "dfdmu-one-power-of-sig-too-many", [("dfdmu", FACTOR, "factor = (x - mu) / sig ** 3")], ["dfdmu"]),
    ht("mistake", "dfdsig-power-of-sig-in-the-exponent-term",
       [("dfdsig", "(x - mu) ** 2 / sig ** 3", "(x - mu) ** 2 / sig ** 2")], ["dfdsig"]),
    ht("mistake", "dfdsig-power-of-sig-in-the-prefactor-term", [("dfdsig", " - 1 / sig)", " - 1 / sig ** 2)")],
       ["dfdsig"]),
    ht("mistake", "dfdsig-plus-one-over-sig", [WRONG_DFDSIG], ["dfdsig"]),
    ht("mistake", "dfdsig-drops-the-exponent-term", [("dfdsig", "return " + DFDSIG, "return -f(x, mu, sig) / sig")],
       ["dfdsig"]),
    ht("mistake", "dfdsig-both-signs-flipped",
       [("dfdsig", "((x - mu) ** 2 / sig ** 3 - 1 / sig)", "(1 / sig - (x - mu) ** 2 / sig ** 3)")], ["dfdsig"]),
    ht("mistake", "dfdmu-f-written-into-factor", [("dfdmu", FACTOR, "factor = f(x, mu, sig) * (x - mu) / sig ** 2")],
       ["dfdmu"], note="the given return line multiplies by f again: f squared"),
    ht("mistake", "dfdsig-f-omitted", [("dfdsig", "return " + DFDSIG, "return (x - mu) ** 2 / sig ** 3 - 1 / sig")],
       ["dfdsig"]),
    ht("mistake", "dfdsig-at-for-star", [("dfdsig", "f(x, mu, sig) * (", "f(x, mu, sig) @ (")], ["dfdsig"],
       note="a dot product: one number where one entry per x is meant"),
    ht("mistake", "steepest_step-dfdmu-for-dfdsig", [WRONG_STEP], ["steepest_step"]),
    ht("mistake", "steepest_step-missing-factor-minus-2", [("steepest_step", DSIG, "residual @ dfdsig(x, mu, sig)")],
       ["steepest_step"]),
    ht("mistake", "steepest_step-sign-error", [("steepest_step", DSIG, "2 * residual @ dfdsig(x, mu, sig)")],
       ["steepest_step"]),
    ht("mistake", "dfdmu-reads-the-heights-mean-not-its-arguments", [("dfdmu", FACTOR, "factor = (x - mean) / sig ** 2")],
       ["dfdmu"], note="mean is the histogram's mean, computed in the data cell"),
    ht("mistake", "dfdsig-reads-the-heights-data-not-its-arguments",
       [("dfdsig", "    return " + DFDSIG, "    x, _ = heights_data()\n    return " + DFDSIG)], ["dfdsig"]),
    ht("mistake", "steepest_step-residual-from-the-heights-data",
       [("steepest_step", DSIG, "-2 * (heights_data()[1] - f(x, mu, sig)) @ dfdsig(x, mu, sig)")], ["steepest_step"]),
    ht("mistake", "steepest_step-at-the-runs-start-point", [("steepest_step", DSIG, "-2 * residual @ dfdsig(x, 155, 6)")],
       ["steepest_step"], note="mu = 155, sig = 6, where the run starts, instead of the arguments"),
    ht("mistake", "dfdmu-loop-over-100-bars",
       [("dfdmu", FACTOR, "factor = np.zeros(100)\n    for k in range(100):\n        factor[k] = (x[k] - mu) / sig ** 2")],
       points=[("dfdmu", 1)], note="right for the 100 bars of the visible test, wrong for other numbers of x"),
    ht("mistake", "steepest_step-loop-over-100-bars", [("steepest_step", DSIG_LINE,
       "    d = dfdsig(x, mu, sig)\n    dchi2_dsig = 0.0\n    for k in range(100):\n"
       "        dchi2_dsig += -2 * residual[k] * d[k]")],
       points=[("steepest_step", 1)], note="right for the 100 bins of the visible test, wrong for other sizes"),
    ht("mistake", "dfdsig-returns-a-list", [("dfdsig", "return " + DFDSIG, "return (" + DFDSIG + ").tolist()")],
       ["dfdsig"]),
    ht("mistake", "steepest_step-returns-an-integer", [("steepest_step", "    return -aggression * J", "    return 0")],
       ["steepest_step"]),
    ht("mistake", "dfdmu-divides-by-zero", [("dfdmu", FACTOR, "factor = (x - mu) / (sig ** 2 - sig * sig)")], ["dfdmu"],
       note="infinite entries"),
    ht("mistake", "steepest_step-returns-nan", [("steepest_step", DSIG, "np.nan * " + DSIG)], ["steepest_step"]),
    # Correct answers in other forms.
    ht("right", "dfdmu-recomputes-f-with-np-exp", [("dfdmu", None, derivative("dfdmu", """
gauss = np.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (sig * np.sqrt(2 * np.pi))
return gauss * (x - mu) / sig ** 2
"""))]),
    ht("right", "dfdmu-f-centred-at-zero", [("dfdmu", None, derivative("dfdmu", """
return f(x - mu, 0, sig) * (x - mu) / sig ** 2
"""))], note="f called at other arguments altogether, not at a step from the given ones"),
    ht("right", "dfdsig-in-terms-of-dfdmu",
       [("dfdsig", "return " + DFDSIG, "return dfdmu(x, mu, sig) * (x - mu) / sig - f(x, mu, sig) / sig")]),
    ht("right", "dfdsig-loop-over-bars", [("dfdsig", None, derivative("dfdsig", """
d = np.zeros(len(x))
for k in range(len(x)):
    d[k] = f(x[k], mu, sig) * ((x[k] - mu) ** 2 / sig ** 3 - 1 / sig)
return d
"""))]),
    ht("right", "steepest_step-np-sum-of-products",
       [("steepest_step", DSIG, "-2 * np.sum(residual * dfdsig(x, mu, sig))")]),
    ht("right", "steepest_step-loop-over-bars", [("steepest_step", DSIG_LINE,
       "    d = dfdsig(x, mu, sig)\n    dchi2_dsig = 0.0\n    for k in range(len(x)):\n"
       "        dchi2_dsig += -2 * residual[k] * d[k]")]),
    ht("right", "right-answer-that-warns-on-stderr", [
        ("dfdsig", "    return " + DFDSIG,
         "    import sys, warnings\n    warnings.warn('is this right?')\n"
         "    print('debugging dfdsig', file=sys.stderr)\n    return " + DFDSIG),
    ]),
    # Tricks.
    ht("trick", "trick-finite-differences-for-dfdmu", [("dfdmu", None, derivative("dfdmu", """
h = 1e-5 * sig
return (f(x, mu + h, sig) - f(x, mu - h, sig)) / (2 * h)
"""))], ["dfdmu"]),
    ht("trick", "trick-finite-differences-for-dfdsig", [("dfdsig", None, derivative("dfdsig", """
h = 1e-4
return (f(x, mu, sig + h) - f(x, mu, sig - h)) / (2 * h)
"""))], ["dfdsig"]),
    ht("trick", "trick-finite-differences-of-chi2-in-the-step",
       [("steepest_step", DSIG, "(chi2(x, y, mu, sig + 1e-6) - chi2(x, y, mu, sig - 1e-6)) / 2e-6")],
       ["steepest_step"]),
    ht("trick", "trick-complex-step-for-dfdmu", [("dfdmu", None, derivative("dfdmu", """
return np.imag(f(x, mu + 1e-20j, sig)) / 1e-20
"""))], ["dfdmu"], note="f at mu + 1e-20j: a complex step, exact to rounding"),
    ht("trick", "trick-complex-step-for-dfdsig", [("dfdsig", None, derivative("dfdsig", """
return np.imag(f(x, mu, sig + 1e-20j)) / 1e-20
"""))], ["dfdsig"], note="f at sig + 1e-20j: a complex step, exact to rounding"),
    ht("trick", "trick-complex-step-of-its-own-gaussian-for-dfdsig", [("dfdsig", None, derivative("dfdsig", """
s = float(sig) + 1e-20j
return np.imag(np.exp(-(x - mu) ** 2 / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi))) / 1e-20
"""))], ["dfdsig"], note="a complex step of its own copy of the Gaussian, at float(sig) + 1e-20j: f is not called"),
    ht("trick", "trick-high-order-finite-differences-for-dfdsig", [("dfdsig", None, derivative("dfdsig", """
h = 0.003 * sig
c = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
return sum(ck * (f(x, mu, sig + (k + 1) * h) - f(x, mu, sig - (k + 1) * h)) for k, ck in enumerate(c)) / h
"""))], ["dfdsig"], note="eighth-order central differences: within 1e-13 of the exact derivative"),
    ht("trick", "trick-complex-step-of-chi2-in-the-step",
       [("steepest_step", DSIG, "np.imag(chi2(x, y, mu, sig + 1e-20j)) / 1e-20")], ["steepest_step"],
       note="dchi2/dsig as chi2 at sig + 1e-20j: a complex step, exact to rounding"),
    ht("trick", "trick-patches-numpy-comparisons", [
        ("dfdmu", "def dfdmu", PATCH_NUMPY + "def dfdmu"), WRONG_DFDMU], ["dfdmu"]),
    ht("trick", "trick-object-equal-to-everything",
       [("dfdsig", None, derivative("dfdsig", anything("np.shape(x)")))], ["dfdsig"]),
    ht("trick", "trick-array-subclass-equal-to-everything",
       [("dfdsig", None, derivative("dfdsig", agreeable("np.shape(x)")))], ["dfdsig"]),
    ht("trick", "trick-silences-tracebacks", [
        ("steepest_step", "def steepest_step", SILENCE_TRACEBACKS + "def steepest_step"), WRONG_STEP],
       ["steepest_step"]),
    ht("trick", "trick-redefines-the-check", [
        ("dfdsig", "def dfdsig", "heights_checks.check = lambda *args, **kwargs: None\n\ndef dfdsig"), WRONG_DFDSIG],
       ["dfdsig"]),
    ht("trick", "trick-deletes-the-checks", [
        ("dfdmu", "def dfdmu", "import sys\ndel heights_checks\nsys.modules.pop('readonly.heights_checks')\n"
         "sys.modules.pop('readonly.checking')\n\ndef dfdmu"), WRONG_DFDMU], ["dfdmu"]),
    ht("trick", "trick-raises-SystemExit",
       [("steepest_step", "    residual = y", "    raise SystemExit(0)\n    residual = y")], ["steepest_step"]),
    ht("trick", "trick-exits-the-kernel", [("dfdmu", "    " + FACTOR, "    import os\n    os._exit(1)\n    " + FACTOR)],
       ["*"], note="stock nbgrader drops the whole notebook when its kernel dies"),
    # Breakage.
    ht("breakage", "syntax-error-in-one-cell", [("dfdsig", " - 1 / sig)", " - 1 / sig))")], ["dfdsig"]),
    ht("breakage", "stub-left-in-one-function", [("dfdmu", FACTOR, "raise NotImplementedError()")], ["dfdmu"]),
    ht("breakage", "endless-loop-in-one-function", [("steepest_step", DSIG_LINE, "    while True:\n        pass")],
       ["steepest_step"], note="the checks stop it after 5 s; the run cell that calls it hits nbgrader's cell timeout"),
    ht("breakage", "edited-locked-cell", [("model", "/ (sig * np.sqrt(2 * np.pi))", "/ sig")],
       note="nbgrader puts the locked cell back"),
    ht("breakage", "edited-test-cells-with-a-wrong-function",
       [("test_dfdsig", None, "pass"), ("test_dfdsig_hidden", None, "pass"),
        ("dfdsig", "(x - mu) ** 2 / sig ** 3", "(x - mu) ** 2 / sig ** 2")], ["dfdsig"],
       note="nbgrader puts the test cells back"),
    ht("breakage", "deleted-solution-cell", [("dfdsig", None, None)], ["dfdsig"]),
    ht("breakage", "deleted-test-cells-of-a-right-function",
       [("test_steepest_step", None, None), ("test_steepest_step_hidden", None, None)], ["steepest_step"],
       note="nbgrader scores a deleted test cell 0: deleting a test costs its function, not the others"),
]


def corpus():
    """Every case: the sample class first, then the entries above; (kind, case) pairs."""
    cases = []
    for name in sorted(CLASS):
        for case in CLASS[name]:
            kind = "right" if case.right else ("breakage" if case.untouched else "mistake")
            cases.append((kind, case))
    cases.extend(BACKPROP)
    cases.extend(HEIGHTS)
    return cases


#: The mistake each function that loses points is counted under in the class report (coursetools.report):
#: the identifier the checks put on the failure ("J_b3/sign"), or the kind of the submission's problem
#: ("kernel-died", "missing-cells").  Right cases have none.
MISTAKES = {
    ('backprop', 'J_W1-W3-for-W2'): {'J_W1': 'J_W1/shapes-do-not-fit'},
    ('backprop', 'J_W1-hard-coded-sizes'): {'J_W1': 'J_W1/shapes-do-not-fit'},
    ('backprop', 'J_W1-missing-transpose'): {'J_W1': 'J_W1/shapes-do-not-fit'},
    ('backprop', 'J_W1-skips-d_sigma-of-layer-2'): {'J_W1': 'J_W1/skips-d_sigma'},
    ('backprop', 'J_b1-broadcast-keeps-the-shape'): {'J_b1': 'J_b1/unrecognised'},
    ('backprop', 'J_b1-keepdims-dropped'): {'J_b1': 'J_b1/keepdims-dropped'},
    ('backprop', 'J_b1-reads-the-training-data-not-its-arguments'): {'J_b1': 'J_b1/unrecognised'},
    ('backprop', 'J_b1-returns-a-list'): {'J_b1': 'J_b1/not-an-array'},
    ('backprop', 'J_b1-returns-nan'): {'J_b1': 'J_b1/not-finite'},
    ('backprop', 'J_b2-d_sigma-of-wrong-layer'): {'J_b2': 'J_b2/shapes-do-not-fit'},
    ('backprop', 'J_b2-missing-transpose'): {'J_b2': 'J_b2/shapes-do-not-fit'},
    ('backprop', 'J_b2-returns-an-integer'): {'J_b2': 'J_b2/not-an-array'},
    ('backprop', 'J_b2-sigma-for-d_sigma'): {'J_b2': 'J_b2/sigma-for-d_sigma'},
    ('backprop', 'J_b2-skips-the-W3-link'): {'J_b2': 'J_b2/shapes-do-not-fit'},
    ('backprop', 'J_b3-matrix-product-for-elementwise'): {'J_b3': 'J_b3/unrecognised'},
    ('backprop', 'J_b3-missing-factor-2'): {'J_b3': 'J_b3/missing-factor-2'},
    ('backprop', 'J_b3-no-division-by-N'): {'J_b3': 'J_b3/no-division-by-N'},
    ('backprop', 'J_b3-sigma-for-d_sigma'): {'J_b3': 'J_b3/sigma-for-d_sigma'},
    ('backprop', 'J_b3-sign-of-dC-da3'): {'J_b3': 'J_b3/sign'},
    ('backprop', 'J_b3-sum-over-wrong-axis'): {'J_b3': 'J_b3/sum-over-wrong-axis'},
    ('backprop', 'deleted-solution-cell'): {'J_b1': 'J_b1/not-defined'},
    ('backprop', 'deleted-test-cells-of-a-right-function'): {'J_b2': 'missing-cells'},
    ('backprop', 'edited-test-cells-with-a-wrong-function'): {'J_b3': 'J_b3/sigma-for-d_sigma'},
    ('backprop', 'endless-loop-in-one-function'): {'J_b3': 'J_b3/endless-loop'},
    ('backprop', 'stub-left-in-one-function'): {'J_b2': 'J_b2/not-implemented'},
    ('backprop', 'syntax-error-in-one-cell'): {'J_W1': 'J_W1/not-defined'},
    ('backprop', 'trick-array-subclass-equal-to-everything'): {'J_b1': 'J_b1/unrecognised'},
    ('backprop', 'trick-deletes-the-checks'): {'J_b3': 'J_b3/sigma-for-d_sigma'},
    ('backprop', 'trick-exits-the-kernel'): {'J_b1': 'kernel-died'},
    ('backprop', 'trick-complex-step-on-a-copy'): {'J_b1': 'J_b1/numerical-derivative'},
    ('backprop', 'trick-complex-step-through-the-network'): {'J_b3': 'J_b3/numerical-derivative'},
    ('backprop', 'trick-finite-differences-for-J_b3'): {'J_b3': 'J_b3/numerical-derivative'},
    ('backprop', 'trick-finite-differences-on-a-copy'): {'J_b1': 'J_b1/numerical-derivative'},
    ('backprop', 'trick-finite-differences-through-the-network'): {'J_W1': 'J_W1/numerical-derivative'},
    ('backprop', 'trick-object-equal-to-everything'): {'J_b1': 'J_b1/not-an-array'},
    ('backprop', 'trick-patches-numpy-comparisons'): {'J_b3': 'J_b3/sigma-for-d_sigma'},
    ('backprop', 'trick-raises-SystemExit'): {'J_b1': 'J_b1/raises-SystemExit'},
    ('backprop', 'trick-redefines-the-check'): {'J_b3': 'J_b3/sigma-for-d_sigma'},
    ('backprop', 'trick-silences-tracebacks'): {'J_b2': 'J_b2/sigma-for-d_sigma'},
    ('backprop', 'untouched-release'): {'J_b3': 'J_b3/not-implemented', 'J_b2': 'J_b2/not-implemented', 'J_W1': 'J_W1/not-implemented', 'J_b1': 'J_b1/not-implemented'},
    ('heights', 'deleted-solution-cell'): {'dfdsig': 'dfdsig/not-defined'},
    ('heights', 'deleted-test-cells-of-a-right-function'): {'steepest_step': 'missing-cells'},
    ('heights', 'dfdmu-divides-by-zero'): {'dfdmu': 'dfdmu/not-finite'},
    ('heights', 'dfdmu-f-written-into-factor'): {'dfdmu': 'dfdmu/f-in-factor'},
    ('heights', 'dfdmu-loop-over-100-bars'): {'dfdmu': 'dfdmu/raises-IndexError'},
    ('heights', 'dfdmu-one-power-of-sig-too-few'): {'dfdmu': 'dfdmu/power-of-sig-too-few'},
    ('heights', 'dfdmu-one-power-of-sig-too-many'): {'dfdmu': 'dfdmu/power-of-sig-too-many'},
    ('heights', 'dfdmu-reads-the-heights-mean-not-its-arguments'): {'dfdmu': 'dfdmu/unrecognised'},
    ('heights', 'dfdmu-sign-error'): {'dfdmu': 'dfdmu/sign'},
    ('heights', 'dfdsig-at-for-star'): {'dfdsig': 'dfdsig/a-single-number'},
    ('heights', 'dfdsig-both-signs-flipped'): {'dfdsig': 'dfdsig/both-signs'},
    ('heights', 'dfdsig-drops-the-exponent-term'): {'dfdsig': 'dfdsig/drops-the-exponent-term'},
    ('heights', 'dfdsig-f-omitted'): {'dfdsig': 'dfdsig/f-omitted'},
    ('heights', 'dfdsig-missing-minus-one-over-sig'): {'dfdsig': 'dfdsig/drops-the-prefactor-term'},
    ('heights', 'dfdsig-plus-one-over-sig'): {'dfdsig': 'dfdsig/sign-of-the-prefactor-term'},
    ('heights', 'dfdsig-power-of-sig-in-the-exponent-term'): {'dfdsig': 'dfdsig/power-in-the-exponent-term-too-few'},
    ('heights', 'dfdsig-power-of-sig-in-the-prefactor-term'): {'dfdsig': 'dfdsig/power-in-the-prefactor-term'},
    ('heights', 'dfdsig-reads-the-heights-data-not-its-arguments'): {'dfdsig': 'dfdsig/wrong-shape'},
    ('heights', 'dfdsig-returns-a-list'): {'dfdsig': 'dfdsig/not-an-array'},
    ('heights', 'edited-test-cells-with-a-wrong-function'): {'dfdsig': 'dfdsig/power-in-the-exponent-term-too-few'},
    ('heights', 'endless-loop-in-one-function'): {'steepest_step': 'steepest_step/endless-loop'},
    ('heights', 'steepest_step-at-the-runs-start-point'): {'steepest_step': 'steepest_step/unrecognised'},
    ('heights', 'steepest_step-dfdmu-for-dfdsig'): {'steepest_step': 'steepest_step/dfdmu-for-dfdsig'},
    ('heights', 'steepest_step-loop-over-100-bars'): {'steepest_step': 'steepest_step/raises-IndexError'},
    ('heights', 'steepest_step-missing-factor-minus-2'): {'steepest_step': 'steepest_step/missing-factor-minus-2'},
    ('heights', 'steepest_step-residual-from-the-heights-data'): {'steepest_step': 'steepest_step/shapes-do-not-fit'},
    ('heights', 'steepest_step-returns-an-integer'): {'steepest_step': 'steepest_step/not-an-array'},
    ('heights', 'steepest_step-returns-nan'): {'steepest_step': 'steepest_step/not-finite'},
    ('heights', 'steepest_step-sign-error'): {'steepest_step': 'steepest_step/sign'},
    ('heights', 'steepest_step-star-for-at'): {'steepest_step': 'steepest_step/elementwise-for-dot'},
    ('heights', 'stub-left-in-one-function'): {'dfdmu': 'dfdmu/not-implemented'},
    ('heights', 'syntax-error-in-one-cell'): {'dfdsig': 'dfdsig/not-defined'},
    ('heights', 'trick-array-subclass-equal-to-everything'): {'dfdsig': 'dfdsig/unrecognised'},
    ('heights', 'trick-deletes-the-checks'): {'dfdmu': 'dfdmu/sign'},
    ('heights', 'trick-exits-the-kernel'): {'dfdmu': 'kernel-died', 'dfdsig': 'kernel-died', 'steepest_step': 'kernel-died'},
    ('heights', 'trick-complex-step-for-dfdmu'): {'dfdmu': 'dfdmu/numerical-derivative'},
    ('heights', 'trick-complex-step-for-dfdsig'): {'dfdsig': 'dfdsig/numerical-derivative'},
    ('heights', 'trick-complex-step-of-chi2-in-the-step'): {'steepest_step': 'steepest_step/numerical-derivative'},
    ('heights', 'trick-complex-step-of-its-own-gaussian-for-dfdsig'): {'dfdsig': 'dfdsig/numerical-derivative'},
    ('heights', 'trick-finite-differences-for-dfdmu'): {'dfdmu': 'dfdmu/numerical-derivative'},
    ('heights', 'trick-finite-differences-for-dfdsig'): {'dfdsig': 'dfdsig/numerical-derivative'},
    ('heights', 'trick-finite-differences-of-chi2-in-the-step'): {'steepest_step': 'steepest_step/numerical-derivative'},
    ('heights', 'trick-high-order-finite-differences-for-dfdsig'): {'dfdsig': 'dfdsig/numerical-derivative'},
    ('heights', 'trick-object-equal-to-everything'): {'dfdsig': 'dfdsig/not-an-array'},
    ('heights', 'trick-patches-numpy-comparisons'): {'dfdmu': 'dfdmu/sign'},
    ('heights', 'trick-raises-SystemExit'): {'steepest_step': 'steepest_step/raises-SystemExit'},
    ('heights', 'trick-redefines-the-check'): {'dfdsig': 'dfdsig/sign-of-the-prefactor-term'},
    ('heights', 'trick-silences-tracebacks'): {'steepest_step': 'steepest_step/dfdmu-for-dfdsig'},
    ('heights', 'untouched-release'): {'dfdmu': 'dfdmu/not-implemented', 'dfdsig': 'dfdsig/not-implemented', 'steepest_step': 'steepest_step/not-implemented'},
}
