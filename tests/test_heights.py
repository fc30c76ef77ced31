"""The heights assignment: its reference solution, its helper module and its checks."""
import json

import numpy as np
import pytest
from conftest import REPO
from notebook_code import run_cells
from scipy.optimize import minimize

from readonly import heights, heights_checks
from readonly.checking import CheckFailed, installed

SOURCE = REPO / "source" / "heights" / "2-FittingDistribution.ipynb"


@pytest.fixture(scope="module")
def solution():
    """The master notebook's model and reference functions, run in-process."""
    return run_cells(SOURCE, ["imports", "model", "dfdmu", "dfdsig", "steepest_step"])


def descend(solution, steps=50, mu=155.0, sig=6.0, aggression=2000):
    x, y = heights.heights_data()
    path = [(mu, sig)]
    for _ in range(steps):
        d_mu, d_sig = solution["steepest_step"](x, y, mu, sig, aggression)
        mu, sig = mu + d_mu, sig + d_sig
        path.append((mu, sig))
    return np.array(path)


def test_heights_data_is_a_density_over_bin_centres():
    x, y = heights.heights_data()
    assert x.shape == y.shape == (100,)
    assert x[0] == 51.25 and x[-1] == 298.75 and np.allclose(np.diff(x), 2.5)
    assert np.sum(y) * 2.5 == pytest.approx(1)
    assert y.max() == pytest.approx(0.053, abs=5e-4)
    assert np.count_nonzero(y) == 16 and y[x < 160].sum() == 0
    mean = np.sum(x * y) * 2.5
    assert mean == pytest.approx(178.49, abs=0.005)
    assert np.sqrt(np.sum((x - mean) ** 2 * y) * 2.5) == pytest.approx(7.54, abs=0.005)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name, parameter", [("dfdmu", 1), ("dfdsig", 2)])
def test_reference_derivatives_match_central_differences(solution, name, parameter, seed):
    rng = np.random.default_rng(seed)
    mu, sig = rng.uniform(150, 200), rng.uniform(2, 35)
    x = rng.uniform(mu - 3 * sig, mu + 3 * sig, 50)
    h = 1e-5 * sig
    args_up, args_down = [x, mu, sig], [x, mu, sig]
    args_up[parameter] += h
    args_down[parameter] -= h
    want = (solution["f"](*args_up) - solution["f"](*args_down)) / (2 * h)
    got = solution[name](x, mu, sig)
    assert got.shape == x.shape
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) < 1e-6


def test_the_run_ends_at_the_spec_numbers_and_the_least_squares_minimum(solution):
    x, y = heights.heights_data()
    chi2 = solution["chi2"]
    path = descend(solution)
    assert chi2(x, y, 155, 6) == pytest.approx(0.0323, abs=5e-5)
    assert path[1] == pytest.approx([155.93, 13.32], abs=0.005)
    mu, sig = path[-1]
    assert mu == pytest.approx(178.52, abs=0.01)
    assert sig == pytest.approx(7.55, abs=0.01)
    assert chi2(x, y, mu, sig) == pytest.approx(4.39e-4, abs=5e-7)
    best = minimize(lambda p: chi2(x, y, *p), x0=[175.0, 10.0], method="Nelder-Mead",
                    options={"xatol": 1e-6, "fatol": 1e-14})
    assert best.success
    assert best.x == pytest.approx([178.52, 7.548], abs=0.005)
    assert (mu, sig) == pytest.approx(tuple(best.x), abs=0.01)


def test_pictures_draw_the_model_they_are_given():
    def flat(x, mu, sig):
        return 0.01 + 0 * (x + mu + sig)

    figure = heights.histogram(flat, [170, 8])
    curve = figure.axes[0].lines[0]
    assert np.allclose(curve.get_ydata(), 0.01)
    assert "cm" in figure.axes[0].get_xlabel()
    x, y = heights.heights_data()
    grid = heights.chi_squared_grid(flat, np.array([160.0, 170.0]), np.array([5.0]))
    assert grid == pytest.approx(np.full((1, 2), np.sum((y - 0.01) ** 2)))

    def wide(x, mu, sig):
        return np.exp(-((x - mu) ** 2) / (8 * sig**2)) / (2 * sig * np.sqrt(2 * np.pi))

    path = np.array([[155, 6], [160, 9], [170, 8]])
    figure = heights.contour(wide, path)
    assert np.allclose(figure.axes[0].lines[0].get_xdata(), path[:, 0])
    assert "cm" in figure.axes[0].get_xlabel() and "cm" in figure.axes[0].get_ylabel()


@pytest.mark.parametrize("name", heights_checks.FUNCTIONS)
def test_checks_pass_the_reference_and_restore_the_notebook(solution, name):
    before = {key: solution[key] for key in ("f", "dfdmu", "dfdsig")}
    heights_checks.check(solution, name, [(100, 1, 2000)] if name == "steepest_step" else [(100, 1)])
    assert all(solution[key] is value for key, value in before.items())


def test_check_names_the_dropped_term_of_dfdsig(solution):
    def dropped(x, mu, sig):
        return solution["f"](x, mu, sig) * (x - mu) ** 2 / sig ** 3

    with installed(solution, {"dfdsig": dropped}):
        with pytest.raises(CheckFailed, match="dfdsig is not right yet"):
            heights_checks.check(solution, "dfdsig", [(100, 1)])
        # A wrong dfdsig does not cost steepest_step its points.
        heights_checks.check(solution, "steepest_step", [(100, 1, 2000)])


def test_check_rejects_a_step_that_ignores_its_arguments(solution):
    x, y = heights.heights_data()
    with installed(solution, {"steepest_step": lambda *args: solution_step_on_heights(solution, x, y)}):
        with pytest.raises(CheckFailed, match="steepest_step"):
            heights_checks.check(solution, "steepest_step", [(100, 1, 2000)])


def solution_step_on_heights(solution, x, y):
    return -2000 * np.array([-2 * (y - solution["f"](x, 155, 6)) @ solution["dfdmu"](x, 155, 6),
                             -2 * (y - solution["f"](x, 155, 6)) @ solution["dfdsig"](x, 155, 6)])


@pytest.mark.parametrize("name", heights_checks.FUNCTIONS)
def test_grader_judges_the_reported_answers_of_the_reference(solution, name):
    """The grader's half of a check accepts the reference's answers as they cross the kernel's boundary (JSON)."""
    for case in heights_checks.grader_cases(11)[name]:
        reported = json.loads(json.dumps(heights_checks.answer(solution, name, case)))
        heights_checks.judge(name, case, reported)


def test_grader_judge_names_a_wrong_step():
    case = heights_checks.grader_cases(11)["steepest_step"][0]
    with pytest.raises(CheckFailed, match="steepest_step is not right yet"):
        heights_checks.judge("steepest_step", case, [0.0, 0.0, 0.0, 0.0])
    with pytest.raises(CheckFailed, match="did not report 4 finite numbers"):
        heights_checks.judge("steepest_step", case, [0.0, 0.0])
