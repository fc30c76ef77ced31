"""The mistakes the checks of 1-Backpropagation recognise, and what a learner reads when none matches.

A known mistake is a triple (mistake, form, cause): its identifier (without the function's name),
the entries (or the shape) that mistake gives, and a sentence naming the step to look at in the
notebook's words (layers, links of the chain, the derivative of the activation), never the code
to write.  When a wrong answer matches none of them, the learner is told so, and how to look for
the mistake themselves (`unmatched`, `unknown_shape`), not a list of causes that may not apply.

readonly.backprop_checks computes the references and asks `diagnose` what to say.  This module
imports readonly.checking, and is one of the checks module's PARTS, which
readonly.checking.run_test imports afresh after it.
"""
import numpy as np

from readonly.checking import explained, recognise

#: Scalings of the right Jacobian that a known mistake gives: (mistake, factor, cause); N is the number of examples.
SCALINGS = (
    ("no-division-by-N", lambda N: N, "the division by the number of examples N is missing: C is a mean over them"),
    ("divides-by-N-twice", lambda N: 1 / N,
     "a division by the number of examples N too many: a mean over the examples already divides by N once"),
    ("sign", lambda N: -1, "a sign: C grows as a3 moves away from y, so dC/da3 is positive where a3 > y"),
    ("missing-factor-2", lambda N: 0.5, "the factor 2 that the derivative of a square brings down"),
    ("missing-factor-minus-2", lambda N: -0.5, "the factor 2 of the square's derivative, and with it the sign"),
)

#: Layers each parameter's chain of derivatives passes through, from the output down.
CHAIN = {"3": "3", "2": "32", "1": "321"}


def scalings(reference, N):
    """(mistake, form, cause) for each scaling of reference (the right Jacobian's entries) in SCALINGS."""
    return [(mistake, [factor(N) * r for r in reference], cause) for mistake, factor, cause in SCALINGS]


def chain_mistakes(target, wrong_jacobian, sigma):
    """(mistake, Jacobian, cause) for each wrong derivative of the activation a chain rule to target may use.

    target: the parameter, as "W1"; wrong_jacobian(derivatives): the Jacobian a chain rule gives that
    uses g(z) in place of the activation's derivative at each layer of derivatives ({layer: g});
    sigma: the activation.
    """
    layers = CHAIN[target[1]]
    known = []
    for layer in layers:
        known.append(("sigma-for-d_sigma", wrong_jacobian({layer: sigma}),
                      f"the activation sigma itself at layer {layer} where its derivative belongs: the link "
                      f"da{layer}/dz{layer} is the slope of the activation"))
    if len(layers) > 1:
        known.append(("sigma-for-d_sigma", wrong_jacobian({layer: sigma for layer in layers}),
                      "the activation sigma itself where its derivative belongs, at every layer of the chain"))
    for layer in layers:
        known.append(("skips-d_sigma", wrong_jacobian({layer: np.ones_like}),
                      f"a missing link of the chain: the derivative of the activation at layer {layer}, "
                      f"da{layer}/dz{layer}"))
    return known


def diagnose(name, got, reference, N, wrong_jacobian, sigma):
    """(causes, mistake, advice) of readonly.checking.failure for got, name's wrong entries.

    reference: the right entries; N: the number of examples; wrong_jacobian, sigma: as chain_mistakes takes them.
    """
    known = scalings(reference, N) + chain_mistakes(name[2:], wrong_jacobian, sigma)
    return explained(recognise(got, known), unmatched(name))


def _sizes(params):
    """{layer: (its number of units, its name in the notebook)}, layer 0 being the input."""
    n1, n2 = params["W1"].shape[0], params["W2"].shape[0]
    return {0: (1, "1"), 1: (n1, "n1"), 2: (n2, "n2"), 3: (2, "2")}


def shape_mistakes(name, params, N):
    """{shape: (mistake, cause)} for the wrong shapes of name's answer that a known mistake gives.

    A shape that two mistakes give (or one at two layers), or the right shape (on a network whose
    sizes coincide), is left out: it names no cause.
    """
    layer, bias = int(name[-1]), name.startswith("J_b")
    sizes = _sizes(params)
    rows, rows_name = sizes[layer]
    columns = 1 if bias else sizes[layer - 1][0]
    known = []
    if bias:
        known += [
            ((rows,), "keepdims-dropped",
             f"keepdims=True dropped from the given sum over examples (that gives shape ({rows},))"),
            ((rows, N), "no-sum-over-examples",
             "the sum over the examples, axis=1, is missing (that leaves one column per example)"),
            ((1, N), "sum-over-wrong-axis", "a sum over the units (axis=0) where the sum over the examples (axis=1) "
                                            "is meant"),
        ]
    else:
        for other in (0, 1, 2, 3):
            if other != layer - 1:
                known.append(((rows, sizes[other][0]), "last-factor-of-another-layer",
                              f"the given last line changed: J, ({rows_name}, N), is multiplied by the transpose of "
                              f"a{layer - 1}, the input of layer {layer}; an activation of layer {other} there gives "
                              f"({rows_name}, {sizes[other][1]})"))
    for upper in range(layer + 1, 4):
        known.append(((sizes[upper][0], columns), "chain-stops-early",
                      f"the chain stops at layer {upper}: J ends with one row per unit of layer {upper}; from there "
                      f"it goes on down, through each weight matrix and each layer's activation derivative, to "
                      f"layer {layer}"))
    mistakes = {}
    for shape, mistake, cause in known:
        mistakes.setdefault(shape, []).append((mistake, cause))
    right = (rows, columns)
    return {shape: found[0] for shape, found in mistakes.items()
            if shape != right and len(set(found)) == 1}


def unmatched(name):
    """What a learner reads when the values of name match no known mistake: that, and rise over run."""
    return [
        "none of the mistakes this test knows gives these values, so it names no cause.",
        "Check an entry yourself by rise over run, as after J_b3: in a new cell, run",
        f'    backprop.rise_over_run(globals(), "{name}", x, y, entry=(0, 0))',
        f"It nudges one entry of {name[2:]} (try others as well) and compares the change in the cost with your "
        f"{name}.",
        "Then compare each line of your J with its link of the chain in the text above, with the shape of J beside "
        "it.",
    ]


def unknown_shape(name, params):
    """What a learner reads when name's answer has a wrong shape that no known mistake gives."""
    layer = int(name[-1])
    return [
        "none of the mistakes this test knows gives this shape, so it names no cause.",
        f"Write the shape of J beside each line of {name}, in N, n1 and n2, as the comments of J_W2 do: J starts "
        "as (2, N), one row per output, and each step down through a weight matrix gives it one row per unit of "
        f"the layer below, down to ({_sizes(params)[layer][1]}, N) before the given last line.",
    ]
