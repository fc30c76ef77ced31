"""The inputs on which 2-FittingDistribution's graded functions must be right: what `make audit` draws.

coursetools.audit.truth calls the instructor's solution and a mutant of it on each input that
`inputs` draws and compares their results; it uses nothing of the checks.  Inputs are
(globals, args) with no globals: dfdmu and dfdsig take (x, mu, sig), steepest_step takes
(x, y, mu, sig, aggression).

The domain: x, (N,) with N >= 1, sorted; mu and sig numbers, sig > 0, of each kind the notebook
gives them: Python ints (its descent starts at mu, sig = 155, 6), Python floats, and NumPy floats
(after a step); x around mu, and also all to one side of it, where the Gaussian is cut off at the
edge of the range and nearly 0; y, (N,), a histogram of random bumps; aggression a positive
number, an int or a float.
Importing this module has no side effects.
"""
import numpy as np

#: Numbers of x: the notebook's 100 bars and others, N = 1 and 2 included.
SIZES = (100, 1, 2, 7, 40, 250)
#: Where x lies around mu, in units of sig: around it, left of it, right of it, far out in a tail.
SPREADS = ((-4, 4), (-6, -1), (1, 6), (3, 9), (-1, 1))
#: The kinds of number mu and sig come as, in turn: a Python int (rounded), a Python float, a NumPy float.
KINDS = (lambda v: int(round(v)), float, np.float64)
#: Relative error (of the whole array, by its largest entry) within which two results are the same.
TOLERANCE = 1e-9
FUNCTIONS = ("dfdmu", "dfdsig", "steepest_step")


def _bumps(x, rng):
    """A histogram, (N,), of two or three random bumps over x, of area about 1."""
    y = np.zeros(len(x))
    for _ in range(rng.integers(2, 4)):
        centre, width = rng.uniform(x.min() - 10, x.max() + 10), rng.uniform(3, 12)
        y += rng.uniform(0.3, 1) * np.exp(-(x - centre) ** 2 / (2 * width ** 2)) / (width * np.sqrt(2 * np.pi))
    return y


def inputs(name, seed):
    """[(globals, args)]: the inputs of the graded function name, drawn from seed (an int)."""
    if name not in FUNCTIONS:
        raise KeyError(name)
    rng = np.random.default_rng(seed)
    found = []
    for N in SIZES:
        for low, high in SPREADS:
            kind = KINDS[len(found) % len(KINDS)]
            mu, sig = kind(rng.uniform(150, 200)), kind(rng.uniform(2, 35))
            x = np.sort(rng.uniform(mu + low * sig, mu + high * sig, N))
            if name == "steepest_step":
                aggression = int(rng.integers(1, 5000)) if rng.random() < 0.5 else float(rng.uniform(0.5, 8000))
                found.append(({}, (x, _bumps(x, rng), mu, sig, aggression)))
            else:
                found.append(({}, (x, mu, sig)))
    return found
