"""The inputs on which 1-Backpropagation's graded functions must be right: what `make audit` draws.

coursetools.audit.truth calls the instructor's solution and a mutant of it on each input that
`inputs` draws and compares their results; it uses nothing of the checks.  A Jacobian function
J_<p>(x, y) reads the network's weights W1 ... b3 as globals of the notebook, so an input is
(globals, args): the weights to install, then x, (1, N), and y, (2, N).

The domain: any 1-n1-n2-2 network with n1, n2 >= 1 and any N >= 1, weights drawn as the
notebook's reset_network draws them (N(0, 0.5^2)), x in [0, 1], y in [0.1, 0.9].  SIZES holds the
notebook's own sizes and the others a learner's code must also work for: N = 1, square layers
(n1 == n2; n2 == 2, which makes W3 square), a size equal to another (N == n1), one-unit layers.
Importing this module has no side effects.
"""
import numpy as np

#: (n1, n2, N) of the inputs, each drawn DRAWS_PER_SIZE times.
SIZES = ((6, 7, 100), (6, 7, 20), (6, 7, 1), (3, 4, 5), (5, 5, 8), (4, 2, 9), (2, 2, 2), (1, 1, 1), (8, 2, 1),
         (5, 9, 12), (7, 3, 7), (2, 6, 3), (9, 4, 4))
DRAWS_PER_SIZE = 3
#: Relative error (of the whole array, by its largest entry) within which two results are the same.
TOLERANCE = 1e-9
FUNCTIONS = ("J_b3", "J_b2", "J_W1", "J_b1")


def network(n1, n2, rng):
    """Weights and biases of a 1-n1-n2-2 network, {name: array}, drawn as reset_network draws them."""
    shapes = {"W1": (n1, 1), "W2": (n2, n1), "W3": (2, n2), "b1": (n1, 1), "b2": (n2, 1), "b3": (2, 1)}
    return {name: rng.standard_normal(shape) / 2 for name, shape in shapes.items()}


def inputs(name, seed):
    """[(globals, args)]: the inputs of the graded function name, drawn from seed (an int)."""
    if name not in FUNCTIONS:
        raise KeyError(name)
    rng = np.random.default_rng(seed)
    found = []
    for n1, n2, N in SIZES:
        for _ in range(DRAWS_PER_SIZE):
            weights = network(n1, n2, rng)
            x = rng.uniform(0, 1, (1, N))
            y = rng.uniform(0.1, 0.9, (2, N))
            found.append((weights, (x, y)))
    return found
