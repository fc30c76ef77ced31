"""What the checks tell a learner, and what they tell the grader: hints without answers, errors at the learner's line,
and a stable identifier on every failure.

The hints are every sentence a check can print as a likely cause; the answers are the lines between
### BEGIN SOLUTION and ### END SOLUTION in the master notebooks.
"""
import linecache
import re

import nbformat
import numpy as np
import pytest
from conftest import REPO

from coursetools.course import assignments
from readonly import backprop_checks, backprop_mistakes, heights_checks, heights_mistakes
from readonly.checking import CheckFailed, call, named_shapes, recognise
from readonly.guards import NUMERICAL_DERIVATIVE, Watch, guard, moved, watched_call


def solution_fragments():
    """Each solution line, and the right-hand side of each assignment in one, without spaces."""
    fragments = set()
    for assignment in assignments(REPO):
        for cell in nbformat.read(assignment.source(REPO), as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if line.strip() == "### BEGIN SOLUTION":
                    inside = True
                elif line.strip() == "### END SOLUTION":
                    inside = False
                elif inside and line.strip():
                    code = re.sub(r"\s+", "", line)
                    fragments.add(code.removeprefix("return"))
                    if "=" in code and "==" not in code:
                        fragments.add(code.split("=", 1)[1])
    return {f for f in fragments if len(f) >= 6}


def every_hint():
    """Every likely cause, and every line of advice, that the two checks modules can print."""
    hints = [cause for _, _, cause in backprop_mistakes.scalings([1.0], 20)]
    params, x, y = backprop_checks.random_case(6, 7, 20, 0)
    for name in ("J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1"):
        target = name[2:]
        jacobian = lambda derivatives: backprop_checks.exact_jacobian(params, target, x, y, derivatives)  # noqa: E731
        hints += [cause for _, _, cause in backprop_mistakes.chain_mistakes(target, jacobian, backprop_checks._sigma)]
        hints += [cause for _, cause in backprop_mistakes.shape_mistakes(name, params, 20).values()]
        hints += backprop_mistakes.unmatched(name) + backprop_mistakes.unknown_shape(name, params)
    x, mu, sig = heights_checks.random_point(30, 0)
    gradient = heights_checks.numerical(lambda m, s: heights_checks.gaussian(x, m, s), mu, sig)
    for name in ("dfdmu", "dfdsig"):
        hints += [cause for _, _, cause in heights_mistakes.derivative_mistakes(
            name, gradient[heights_checks.ROW[name]], heights_checks.gaussian(x, mu, sig), sig, gradient[0])]
    hints += [cause for _, _, cause in heights_mistakes.step_mistakes([1.0, 2.0], 30)]
    for name in heights_checks.FUNCTIONS:
        hints += heights_mistakes.unmatched(name) + heights_mistakes.unknown_shape(name)
    hints += [text for pair in heights_mistakes.NUMERICAL_DERIVATIVE.values() for text in pair]
    hints += [heights_mistakes.SINGLE_NUMBER, heights_mistakes.ELEMENTWISE, heights_mistakes.NUMERICAL]
    hints += list(backprop_checks.NUMERICAL_DERIVATIVE)
    return hints


def test_no_hint_prints_the_solution_s_code():
    fragments = solution_fragments()
    assert len(fragments) >= 8 and "J*d_sigma(z3)" in fragments
    hints = every_hint()
    assert len(hints) >= 40
    for hint in hints:
        spaceless = re.sub(r"\s+", "", hint)
        assert not [f for f in fragments if f in spaceless], hint


def test_every_known_mistake_has_its_own_form():
    """No two known mistakes give the same answer, so one tolerance tells them apart (the ones sharing an id aside)."""
    params, x, y = backprop_checks.random_case(5, 3, 7, 4)
    reference = backprop_checks.numerical_jacobian(params, "W1", x, y).ravel().tolist()
    known = backprop_mistakes.scalings(reference, 7) + backprop_mistakes.chain_mistakes(
        "W1", lambda derivatives: backprop_checks.exact_jacobian(params, "W1", x, y, derivatives),
        backprop_checks._sigma)
    for mistake, form, _ in known:
        assert recognise(np.ravel(form).tolist(), known)[0] == mistake
    x, mu, sig = heights_checks.random_point(25, 3)
    gradient = heights_checks.numerical(lambda m, s: heights_checks.gaussian(x, m, s), mu, sig)
    for name in ("dfdmu", "dfdsig"):
        known = heights_mistakes.derivative_mistakes(name, gradient[heights_checks.ROW[name]],
                                                     heights_checks.gaussian(x, mu, sig), sig, gradient[0])
        for mistake, form, _ in known:
            assert recognise(np.ravel(form).tolist(), known)[0] == mistake


def test_a_shape_error_names_the_learner_s_line_and_the_shapes():
    source = "def J_b2(x, y):\n    J = np.ones((2, x.shape[1]))\n    J = J.T @ np.ones((7, 7))\n    return J\n"
    namespace, cell = {"np": np}, "/tmp/ipykernel_1/3141.py"
    linecache.cache[cell] = (len(source), None, source.splitlines(True), cell)  # as IPython registers a cell
    exec(compile(source, cell, "exec"), namespace)
    with pytest.raises(CheckFailed) as failed:
        call(namespace["J_b2"], "J_b2", np.zeros((1, 20)), None, sizes={20: "N", 6: "n1", 7: "n2", 2: "2"})
    message = str(failed.value)
    assert failed.value.mistake == "J_b2/shapes-do-not-fit"
    assert "line 3 of your cell: J = J.T @ np.ones((7, 7))" in message
    assert "shapes in that line: J (2, 20) = (2, N)" in message and "N = 20, n1 = 6, n2 = 7" in message


def test_named_shapes_leaves_unknown_or_plain_shapes_alone():
    assert named_shapes("(20, 7) and (7, 20) and (3, 4)", {20: "N", 7: "n2"}) == \
        "(20, 7) = (N, n2) and (7, 20) = (n2, N) and (3, 4)"
    assert named_shapes("(2, 1)", {2: "2", 1: "1"}) == "(2, 1)"


def test_a_missing_return_is_named():
    namespace = {}
    exec("def J_b3(x, y):\n    J = 1\n", namespace)
    with pytest.raises(CheckFailed) as failed:
        backprop_checks.check({**namespace, "network_function": lambda a0: None, **_weights()}, "J_b3",
                              [(6, 7, 20, 1)])
    assert failed.value.mistake == "J_b3/missing-return"
    assert "`return` line is missing" in str(failed.value)


def _weights():
    params, _, _ = backprop_checks.random_case(6, 7, 20, 1)
    return params


def test_a_learner_exit_is_a_failed_check_not_an_exit():
    def leaves(x, y):
        raise SystemExit(0)

    with pytest.raises(CheckFailed) as failed:
        call(leaves, "J_b1", 1, 2)
    assert failed.value.mistake == "J_b1/raises-SystemExit"


def test_kernel_side_failures_cross_to_the_grader_with_their_identifier():
    case = backprop_checks.grader_cases(2)["J_b3"][0]
    with pytest.raises(CheckFailed) as failed:
        backprop_checks.judge("J_b3", case, {"message": "J_b3 raised KeyError: 'a'", "mistake": "J_b3/raises-KeyError"})
    assert failed.value.mistake == "J_b3/raises-KeyError"
    with pytest.raises(CheckFailed) as failed:  # an identifier of another function is not believed
        backprop_checks.judge("J_b3", case, {"message": "forged", "mistake": "J_b2/sign"})
    assert failed.value.mistake == "J_b3/unrecognised"


def test_an_error_from_a_callable_without_code_is_still_a_failed_check():
    import functools

    def raw(x, y, scale):
        raise KeyError("a")

    with pytest.raises(CheckFailed) as failed:
        call(functools.partial(raw, scale=2), "J_b3", 1, 2)
    assert failed.value.mistake == "J_b3/raises-KeyError"
    with pytest.raises(CheckFailed) as failed:
        call(dict, "J_b3", 1, 2)  # a builtin: no frame of the learner's at all
    assert failed.value.mistake == "J_b3/raises-TypeError"


# A numerical derivative, seen as it is computed (readonly.guards.Watch, Guarded).

def test_guarded_parameters_compute_as_numpy_does_and_stay_real():
    watch = Watch()
    watch.armed = True
    x = guard(np.linspace(150, 200, 7), watch, "x", 10.0)
    mu, sig = guard(170.0, watch, "mu", 10.0), guard(10.0, watch, "sig", 10.0)
    plain_x = np.linspace(150, 200, 7)
    got = np.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (sig * np.sqrt(2 * np.pi)) * ((x - mu) ** 2 - sig * sig)
    want = np.exp(-(plain_x - 170) ** 2 / 200) / (10 * np.sqrt(2 * np.pi)) * ((plain_x - 170) ** 2 - 100)
    assert np.array_equal(np.asarray(got), want) and got.dtype == float
    assert float(np.sum(x, keepdims=True)[0]) == float(np.sum(plain_x))
    assert np.mean(np.zeros_like(x)) == 0 and x.copy().shape == (7,) and float(sig) == 10.0
    assert isinstance(sig, float) and round(sig, 1) == 10.0 and {sig: 1}[10.0] == 1 and repr(mu) == "170.0"
    assert repr(x) == repr(plain_x) and not watch.seen


@pytest.mark.parametrize("make_complex, seen", [
    (lambda x, sig: sig + 1e-20j, "sig + 1e-20j computed"),
    (lambda x, sig: 1e-6 + sig, "sig + 1e-06 computed"),
    (lambda x, sig: (x - 170) / (1e-20j + sig) ** 2, "arithmetic with complex numbers on x"),
    (lambda x, sig: sig * (1 + 1e-20j), "sig times a complex number computed"),
    (lambda x, sig: complex(sig), "sig made complex"),
    (lambda x, sig: x.astype(complex), "a complex copy of x"),
    (lambda x, sig: np.zeros_like(x, dtype=complex), "complex numbers made from x"),
    (lambda x, sig: (x - 170) / (sig + 0j) ** 2, "sig + 0j computed"),
    (lambda x, sig: np.exp((x - 170) + float(sig) * 1j), "arithmetic with complex numbers on x"),
    (lambda x, sig: sig + 1e-6, "sig + 1e-06 computed"),
    (lambda x, sig: sig - 1e-4 * sig, "sig - 0.001 computed"),
    (lambda x, sig: sig * (1 + 1e-7), "sig * 1.0000001 computed"),
    (lambda x, sig: x + np.array([0, 0, 1e-5, 0, 0]), "x + 1e-05 computed"),
])
def test_a_watch_sees_a_complex_step_or_a_finite_difference(make_complex, seen):
    watch = Watch()
    watch.armed = True
    x, sig = guard(np.linspace(150, 200, 5), watch, "x", 10.0), guard(10.0, watch, "sig", 10.0)
    with pytest.raises(CheckFailed):
        make_complex(x, sig)
    assert watch.seen and watch.seen[0][0].startswith(seen)


def test_a_watch_lets_steps_of_the_formula_and_other_arguments_be():
    """Only a small step of a parameter itself is a finite difference: not x - mu, 1 / sig, or sig ** 2 + 1e-12."""
    watch = Watch()
    watch.armed = True
    x = guard(np.linspace(150, 200, 5), watch, "x", 2.0)
    mu, sig = guard(175.0, watch, "mu", 2.0), guard(2.0, watch, "sig", 2.0)
    (x - mu) ** 2 / sig ** 3 - 1 / sig, sig ** 2 + 1e-12, 2 * sig, sig * sig * sig, mu - x[2], sig + 0.0
    assert not watch.seen
    assert moved("mu", 0.0, 175.0, 2.0) is None and moved("sig", 2.0, 2.0, 2.0) is None
    assert moved("sig", 2.0 + 1e-5, 2.0, 2.0) == ("sig + 1e-05", "a finite difference")
    assert moved("sig", 2.0 + 1e-20j, 2.0, 2.0) == ("sig + 1e-20j", "a complex step")


def test_a_watch_refuses_only_while_armed():
    watch = Watch()
    sig = guard(10.0, watch, "sig", 10.0)
    assert sig + 1e-20j == 10 + 1e-20j and not watch.seen


def test_watched_call_fails_whatever_the_learner_does_with_the_refusal():
    watch = Watch()
    sig = guard(10.0, watch, "sig", 10.0)

    def hides_it(sig):
        try:
            return sig + 1e-20j
        except Exception:
            return np.zeros(3)

    with pytest.raises(CheckFailed) as failed:
        watched_call(hides_it, "dfdsig", sig, watch=watch, expected="by hand", cause="a complex step")
    assert failed.value.mistake == f"dfdsig/{NUMERICAL_DERIVATIVE}"
    assert str(failed.value).splitlines() == [
        "dfdsig is not right yet.", "  expected: by hand", "  got:      sig + 1e-20j computed, as a complex step does",
        "  likely cause:", "    - a complex step"]
    assert not watch.armed
