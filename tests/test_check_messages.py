"""What a failing check says (issue 19, item 4): a cause that applies, or, when no known mistake matches, that
none does and a method the learner can run to find theirs; never a list of causes that may not apply, and never
the missing code.

The learner's functions are the master notebooks' cells with one line changed, run in-process (no kernel).
"""
import contextlib
import io
import re

import numpy as np
import pytest
from conftest import REPO
from notebook_code import run_cells

from readonly import backprop_checks, backprop_mistakes, heights_checks, heights_mistakes
from readonly.checking import CheckFailed

BACKPROP = REPO / "source" / "backprop" / "1-Backpropagation.ipynb"
HEIGHTS = REPO / "source" / "heights" / "2-FittingDistribution.ipynb"
NO_CAUSE = "none of the mistakes this test knows gives"


FUNCTIONS = {"backprop": ("J_b3", "J_b2", "J_W1", "J_b1"), "heights": heights_checks.FUNCTIONS}


def master(path, cells, functions):
    """The master notebook's cells run in-process, with its functions kept under "__master__"."""
    namespace = run_cells(path, list(cells) + list(functions))
    namespace["__master__"] = {name: namespace[name] for name in functions}
    return namespace


@pytest.fixture(scope="module")
def backprop():
    return master(BACKPROP, ["imports", "network"], FUNCTIONS["backprop"])


@pytest.fixture(scope="module")
def heights():
    return master(HEIGHTS, ["imports", "model"], FUNCTIONS["heights"])


def changed(namespace, name, old, new):
    """namespace[name]'s master cell with old replaced by new (old must be in it), defined in namespace.

    The function is defined in the notebook's namespace itself, where network_function reads the weights that a
    check installs; the `restored` fixture puts the master's function back after each test.
    """
    import nbformat

    path = BACKPROP if name.startswith("J_") else HEIGHTS
    (cell,) = [c for c in nbformat.read(path, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == name]
    assert old in cell.source
    exec(cell.source.replace(old, new), namespace)
    return namespace


@pytest.fixture(autouse=True)
def restored(request):
    """Each notebook namespace a test used, with its functions as the master defines them again afterwards."""
    yield
    for fixture in ("backprop", "heights"):
        if fixture in request.fixturenames:
            namespace = request.getfixturevalue(fixture)
            saved = namespace["__master__"]
            namespace.update(saved)


def failed(module, namespace, name, case):
    """The CheckFailed that module's check raises for namespace[name] on case."""
    with pytest.raises(CheckFailed) as raised:
        module.check(namespace, name, [case])
    return raised.value


# The three examples of issue 19, item 4: each gets a cause that applies.

def test_a_factor_2_too_many_in_dfdmu_is_named(heights):
    wrong = changed(heights, "dfdmu", "factor = (x - mu) / sig ** 2", "factor = 2*(x-mu)/sig**2")
    message = failed(heights_checks, wrong, "dfdmu", (100, 2026))
    assert message.mistake == "dfdmu/factor-2-too-many"
    assert "likely cause:\n    - a factor 2 too many" in str(message) and "power of sig" not in str(message)


def test_a1_in_the_last_line_of_J_W1_is_named(backprop):
    wrong = changed(backprop, "J_W1", "J = J @ a0.T / x.size", "J = J @ a1.T / x.size")
    for case in [(6, 7, 20, 2024), (8, 2, 1, 33), (3, 4, 5, 32)]:
        message = failed(backprop_checks, wrong, "J_W1", case)
        assert message.mistake == "J_W1/last-factor-of-another-layer", case
        assert "the given last line changed" in str(message) and "transpose, or" not in str(message)
        assert "sizes 6 and 7" not in str(message)


@pytest.mark.parametrize("old, new, mistake", [
    ("(x - mu) ** 2 / sig ** 3 - 1 / sig", "-(x - mu) ** 2 / sig ** 3 - 1 / sig", "sign-of-the-exponent-term"),
    ("(x - mu) ** 2 / sig ** 3 - 1 / sig", "(x - mu) ** 2 / sig ** 3 + 1 / sig", "sign-of-the-prefactor-term"),
])
def test_a_flipped_sign_of_one_term_of_dfdsig_is_named(heights, old, new, mistake):
    message = failed(heights_checks, changed(heights, "dfdsig", old, new), "dfdsig", (100, 2026))
    assert message.mistake == f"dfdsig/{mistake}"
    assert "likely cause:\n    - a sign" in str(message) and NO_CAUSE not in str(message)


# No known mistake: say so, and give a method the learner can run.

def test_unrecognised_jacobian_values_point_to_rise_over_run(backprop):
    wrong = changed(backprop, "J_W1", "J = J * d_sigma(z1)", "J = 3 * J * d_sigma(z1)")
    message = failed(backprop_checks, wrong, "J_W1", (6, 7, 20, 2024))
    assert message.mistake == "J_W1/unrecognised"
    assert "likely" not in str(message) and NO_CAUSE + " these values" in str(message)
    assert 'backprop.rise_over_run(globals(), "J_W1", x, y, entry=(0, 0))' in str(message)


def test_a_shape_no_known_mistake_gives_says_so(backprop):
    wrong = changed(backprop, "J_W1", "J = J @ a0.T / x.size", "J = (J @ a0.T / x.size).T")
    message = failed(backprop_checks, wrong, "J_W1", (6, 7, 20, 2024))
    assert message.mistake == "J_W1/wrong-shape"
    assert "likely" not in str(message) and NO_CAUSE + " this shape" in str(message)
    assert "(n1, N) before the given last line" in str(message)


def test_a_chain_that_stops_early_is_named(backprop):
    wrong = changed(backprop, "J_b1", "    J = (J.T @ W2).T\n    J = J * d_sigma(z1)\n", "")
    message = failed(backprop_checks, wrong, "J_b1", (6, 7, 20, 2024))
    assert message.mistake == "J_b1/chain-stops-early" and "the chain stops at layer 2" in str(message)


def test_shapes_two_mistakes_share_name_neither():
    """On a 1-8-2-2 network a chain stopping at layer 2 or at layer 3 ends in the same shape: no cause is named."""
    params, _, _ = backprop_checks.random_case(8, 2, 1, 0)
    known = backprop_mistakes.shape_mistakes("J_b1", params, 1)
    assert (2, 1) not in known and (8,) in known


@pytest.mark.parametrize("name, old, new", [
    ("dfdmu", "factor = (x - mu) / sig ** 2", "factor = (x - mu) / sig ** 2 + 1e-3"),
    ("dfdsig", "- 1 / sig)", "- 1.1 / sig)"),
    ("steepest_step", "-2 * residual @ dfdsig(x, mu, sig)", "-3 * residual @ dfdsig(x, mu, sig)"),
])
def test_unrecognised_heights_answers_point_to_a_nudge(heights, name, old, new):
    case = (100, 2026, 2000) if name == "steepest_step" else (100, 2026)
    message = failed(heights_checks, changed(heights, name, old, new), name, case)
    assert message.mistake == f"{name}/unrecognised"
    assert "likely" not in str(message) and NO_CAUSE + " these values" in str(message)
    assert "nudge" in str(message) and "1e-6" in str(message)


# The methods the advice gives run, and agree with a right answer as the advice says.

@pytest.mark.parametrize("name", heights_checks.FUNCTIONS)
def test_the_nudge_a_heights_message_shows_agrees_with_the_master_to_5_digits(heights, name):
    from readonly.heights import heights_data

    code = "\n".join(line[4:] for line in heights_mistakes.unmatched(name) if line.startswith("    "))
    x, y = heights_data()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(code, {**heights, "x": x, "y": y, "np": np})
    rows = [np.array([float(v) for v in re.findall(r"[-+0-9.e]+", line)]) for line in out.getvalue().splitlines()]
    assert len(rows) == 2 and rows[0].shape == rows[1].shape
    assert np.max(np.abs(rows[0] - rows[1])) < 1e-5 * np.max(np.abs(rows[1]))


def test_the_rise_over_run_a_backprop_message_shows_agrees_with_the_master(backprop):
    from readonly.backprop import training_data

    x, y = training_data()
    backprop["reset_network"](random=np.random.default_rng(1))
    (line,) = [line[4:] for line in backprop_mistakes.unmatched("J_W1") if line.startswith("    ")]
    backprop.update(x=x, y=y)  # the notebook's training data; its network_function reads this namespace's weights
    with contextlib.redirect_stdout(io.StringIO()):
        result = eval(line, backprop)
    assert result.agree


def test_no_advice_or_cause_names_the_activation_s_code():
    """The notebook's words for a missing factor ("the derivative of the activation at layer 2"), never d_sigma(z2)."""
    params, x, y = backprop_checks.random_case(6, 7, 20, 0)
    texts = []
    for name in ("J_b3", "J_b2", "J_W1", "J_b1"):
        target = name[2:]
        jacobian = lambda derivatives: backprop_checks.exact_jacobian(params, target, x, y, derivatives)  # noqa: E731
        texts += [cause for _, _, cause in backprop_mistakes.chain_mistakes(target, jacobian, backprop_checks._sigma)]
        texts += [cause for _, cause in backprop_mistakes.shape_mistakes(name, params, 20).values()]
        texts += backprop_mistakes.unmatched(name) + backprop_mistakes.unknown_shape(name, params)
    texts += [cause for _, _, cause in heights_mistakes.step_mistakes([1.0, 2.0], 30)]
    assert texts and not [t for t in texts if re.search(r"d_sigma|sigma\(z|dfdsig\(x", t)]
