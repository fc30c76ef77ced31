"""The mistakes the checks of 2-FittingDistribution recognise, and what a learner reads when none matches.

A known mistake is a triple (mistake, form, cause): its identifier (without the function's name),
the entries that mistake gives, and a sentence naming the step to look at in the notebook's words
(the prefactor A, the exponent u, the product and chain rules), never the code to write.  Each
form is built from the finite-difference reference and f, so no analytic derivative is written
here.  When a wrong answer matches none of them, the learner is told so, and how to look for the
mistake themselves: nudge mu (or sig) and compare the change with the derivative times the nudge
(`unmatched`), not a list of causes that may not apply.

readonly.heights_checks computes the references and asks `diagnose_derivative` and `diagnose_step`
what to say.  This module imports readonly.checking and readonly.gradients, and is one of the
checks module's PARTS, which readonly.checking.run_test imports afresh after them.
"""
import numpy as np

from readonly.checking import explained, recognise
from readonly.gradients import relative_error

NUMERICAL = "a numerical (finite-difference) derivative in place of the one worked out by hand"
#: What a learner's function seen computing a numerical derivative is told, per function: (expected, cause).
NUMERICAL_DERIVATIVE = {
    "dfdmu": ("the derivative worked out by hand, which evaluates f only at the x, mu and sig it is given",
              "a numerical derivative (a complex step, or finite differences) in place of the one worked out by "
              "hand: exact or not, it is not the derivative this exercise asks for; differentiate f in mu by the "
              "chain rule"),
    "dfdsig": ("the derivative worked out by hand, which evaluates f only at the x, mu and sig it is given",
               "a numerical derivative (a complex step, or finite differences) in place of the one worked out by "
               "hand: exact or not, it is not the derivative this exercise asks for; differentiate f in sig by the "
               "product and chain rules"),
    "steepest_step": ("-aggression * J with dchi2/dsig by the chain rule through f, which evaluates f only at the "
                      "mu and sig it is given",
                      "dchi2/dsig computed numerically (a complex step, or finite differences of chi^2) in place of "
                      "the chain rule: the given first entry shows the way for mu"),
}
#: The cause of an answer that is one number where dfdmu or dfdsig gives one per x.
SINGLE_NUMBER = ("a single number where the derivative has one entry per x, like f itself: `@` (a dot product) or "
                 "a sum where the entry-by-entry product `*` is meant")
#: The causes of a step that is wrong in its first entry (given), or does not grow with the aggression.
FIRST_ENTRY_CHANGED = "the first entry of J is given: put back the given line for dchi2/dmu"
IGNORES_AGGRESSION = "the step does not grow with the aggression: the step is -aggression times J"
#: The cause of a step of shape (2, N).
ELEMENTWISE = "`*` where `@` is meant in the Jacobian: each entry must be one number, summed over the bars"


def derivative_mistakes(name, want, f, sig, mu_derivative):
    """(mistake, form, cause) of the wrong derivatives a learner writes for name (dfdmu or dfdsig).

    want: the right derivative's entries (finite differences); f: the Gaussian's values at the
    same x; mu_derivative: the derivative in mu there (for a derivative in mu where sig is meant).
    """
    reference = np.array(want)
    if name == "dfdmu":
        return [
            ("sign", -reference, "a sign: the derivative of (x - mu)**2 in mu brings a minus sign, and the exponent "
             "has one of its own"),
            ("power-of-sig-too-few", reference * sig, "the power of sig: the factor has one power of sig too few"),
            ("power-of-sig-too-many", reference / sig, "the power of sig: the factor has one power of sig too many"),
            ("f-in-factor", reference * f, "f itself written into `factor`: the given return line already multiplies "
             "by f"),
            ("factor-2-too-many", 2 * reference, "a factor 2 too many: the 2 that the derivative of (x - mu)**2 "
             "brings down cancels the 2 of 2 sig**2 in u"),
            ("factor-2-too-few", reference / 2, "a factor 2 too few: the derivative of (x - mu)**2 brings down a 2, "
             "which cancels the 2 of 2 sig**2 in u"),
        ]
    exponent_term = reference + f / sig  # the term the exponent of f contributes
    return [
        ("drops-the-prefactor-term", exponent_term, "a dropped term: the prefactor A depends on sig too, and by the "
         "product rule contributes a term of its own"),
        ("drops-the-exponent-term", -f / sig, "a dropped term: the exponent u depends on sig too, and contributes a "
         "term"),
        ("sign-of-the-prefactor-term", reference + 2 * f / sig, "a sign: A shrinks as sig grows, so dA/dsig is "
         "negative"),
        ("sign-of-the-exponent-term", reference - 2 * exponent_term, "a sign: u = -(x - mu)**2 / (2 sig**2) rises "
         "towards 0 as sig grows, so du/dsig is positive, and so is the exponent's term"),
        ("both-signs", -reference, "both signs are flipped"),
        ("f-omitted", reference / f, "f is missing: both terms keep the factor f (A e^u) that they multiply"),
        ("power-in-the-exponent-term-too-few", exponent_term * sig - f / sig,
         "the power of sig in the exponent's term: one power too few"),
        ("power-in-the-exponent-term-too-many", exponent_term / sig - f / sig,
         "the power of sig in the exponent's term: one power too many"),
        ("power-in-the-prefactor-term", exponent_term - f / sig ** 2,
         "the power of sig in the prefactor's term: differentiate A = 1 / (sig sqrt(2 pi)) in sig again"),
        ("mu-for-sig", mu_derivative, "the derivative with respect to mu where sig is meant"),
    ]


def step_mistakes(want, N):
    """(mistake, form, cause) of the wrong steps a learner writes, for recognise(); want is the right step."""
    first = want[0]
    return [
        ("sign", [first, -want[1]], "a sign of dchi2/dsig: the derivative of (y - f)**2 in sig is minus twice "
         "(y - f) times df/dsig"),
        ("missing-factor-2", [first, want[1] / 2], "the factor 2 that the derivative of the square (y - f)**2 "
         "brings down"),
        ("missing-factor-minus-2", [first, -want[1] / 2], "the factor -2 that the derivative of the square "
         "(y - f)**2 brings down, sign and all"),
        ("mean-for-sum", [first, want[1] / N], "a mean over the bars where chi^2 is their sum"),
        ("dfdmu-for-dfdsig", [first, first], "the derivative of f with respect to mu in the second entry, where the "
         "one with respect to sig belongs"),
        ("second-entry-zero", [first, 0.0], "the second entry is zero: compute dchi2/dsig"),
    ]


def diagnose_derivative(name, got, want, f, sig, mu_derivative):
    """(causes, mistake, advice) of readonly.checking.failure for got, name's wrong entries.

    want, f, sig, mu_derivative: as derivative_mistakes takes them.
    """
    return explained(recognise(got, derivative_mistakes(name, want, f, sig, mu_derivative)), unmatched(name))


def diagnose_step(got, want, both, factor, aggression, N, tolerance):
    """(causes, mistake, advice) of readonly.checking.failure for a wrong step got, (2,), where want was right.

    both: the steps at the aggression and at twice it (factor is the one got is); tolerance: the relative error
    within which got's first entry, which is given, counts as unchanged.
    """
    if factor != aggression and recognise(got, [("", both[:2], "")]):
        return [IGNORES_AGGRESSION], "ignores-aggression", ()
    if relative_error(got[:1], want[:1]) >= tolerance:
        return [FIRST_ENTRY_CHANGED], "first-entry-changed", ()
    return explained(recognise(got, step_mistakes(want, N)), unmatched("steepest_step"))


_NO_CAUSE = "none of the mistakes this test knows gives {}, so it names no cause."


def unmatched(name):
    """What a learner reads when the values of name match no known mistake: that, and a nudge to try."""
    if name == "steepest_step":
        return [
            _NO_CAUSE.format("these values"),
            "Check dchi2/dsig yourself: nudge sig by a small h; the change in chi2 should be dchi2/dsig times h.",
            "In a new cell, run",
            "    h = 1e-6",
            "    print(chi2(x, y, 175.0, 8.0 + h) - chi2(x, y, 175.0, 8.0))",
            "    print(-steepest_step(x, y, 175.0, 8.0, 1.0)[1] * h)",
            "(with aggression 1 the step is -J, so minus its second entry is dchi2/dsig). The two agree in their "
            "first 5 digits when it is right; steepest_step calls your dfdsig here, so pass dfdsig's test first.",
        ]
    parameter, at = ("mu", ("175.0 + h, 8.0", "175.0, 8.0")) if name == "dfdmu" else ("sig", ("175.0, 8.0 + h",
                                                                                            "175.0, 8.0"))
    lines = [
        _NO_CAUSE.format("these values"),
        f"Check it yourself: nudge {parameter} by a small h; the change in f should be {name} times h. In a new "
        "cell, run",
        f"    h, xs = 1e-6, np.array([160.0, {'170.0' if name == 'dfdmu' else '175.0'}, 190.0])",
        f"    print(f(xs, {at[0]}) - f(xs, {at[1]}))",
        f"    print({name}(xs, {at[1]}) * h)",
        f"The two rows agree in their first 5 digits when {name} is right: see where they differ, in sign or in "
        "size, and on which side of mu (175.0).",
    ]
    if name == "dfdsig":
        lines.append("At x = mu the exponent u does not change with sig, so only the prefactor's term is left there.")
    return lines


def unknown_shape(name):
    """What a learner reads when name's answer has a wrong shape that no known mistake gives."""
    if name == "steepest_step":
        return [_NO_CAUSE.format("this shape"),
                "J holds two numbers: print the shape of dchi2_dmu and of dchi2_dsig; each should be (), one number."]
    return [_NO_CAUSE.format("this shape"),
            f"Print the shape of each part of your expression in {name}: each should be a single number or have the "
            "shape of x, as f(x, mu, sig) does."]
