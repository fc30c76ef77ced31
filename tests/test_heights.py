"""The heights assignment: its reference solution, its helper module and its checks."""
import contextlib
import io
import json
import re

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from conftest import REPO
from nbclient import NotebookClient
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


#: Numerical derivatives, some of them exact to rounding: (function, source, what the message says was seen).
NUMERICAL_DERIVATIVES = {
    "complex step of f in mu": ("dfdmu", """
def dfdmu(x, mu, sig):
    return np.imag(f(x, mu + 1e-20j, sig)) / 1e-20
""", "mu + 1e-20j computed, as a complex step does"),
    "complex step of f in sig": ("dfdsig", """
def dfdsig(x, mu, sig):
    return np.imag(f(x, mu, sig + 1e-20j)) / 1e-20
""", "sig + 1e-20j computed, as a complex step does"),
    "complex step of f at float(sig)": ("dfdsig", """
def dfdsig(x, mu, sig):
    return np.imag(f(x, mu, float(sig) + 1e-20j)) / 1e-20
""", "f evaluated at sig + 1e-20j, as a complex step does"),
    "complex step of its own Gaussian, the error caught": ("dfdsig", """
def dfdsig(x, mu, sig):
    try:
        s = float(sig) + 1e-20j
        return np.imag(np.exp(-(x - mu) ** 2 / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi))) / 1e-20
    except Exception:
        return f(x, mu, sig) * ((x - mu) ** 2 / sig ** 3 - 1 / sig)
""", "arithmetic with complex numbers on x"),
    "eighth-order central differences": ("dfdsig", """
def dfdsig(x, mu, sig):
    h = 0.003 * sig
    c = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
    return sum(ck * (f(x, mu, sig + (k + 1) * h) - f(x, mu, sig - (k + 1) * h)) for k, ck in enumerate(c)) / h
""", "computed, as a finite difference does"),
    "finite differences in x": ("dfdmu", """
def dfdmu(x, mu, sig):
    return (f(x - 1e-5, mu, sig) - f(x + 1e-5, mu, sig)) / 2e-5
""", "x - 1e-05 computed, as a finite difference does"),
    "complex step of chi2": ("steepest_step", """
def steepest_step(x, y, mu, sig, aggression):
    residual = y - f(x, mu, sig)
    dchi2_dmu = -2 * residual @ dfdmu(x, mu, sig)
    dchi2_dsig = np.imag(chi2(x, y, mu, sig + 1e-20j)) / 1e-20
    return -aggression * np.array([dchi2_dmu, dchi2_dsig])
""", "sig + 1e-20j computed, as a complex step does"),
}


def test_an_eighth_order_finite_difference_is_as_exact_as_the_exact_reference():
    """Why values cannot tell a numerical derivative: this one is within 1e-13 of the complex step."""
    x, mu, sig = heights_checks.random_point(250, 3)
    g = lambda s: heights_checks.gaussian(x, mu, s)  # noqa: E731
    h = 0.003 * sig
    c = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
    got = sum(ck * (g(sig + (k + 1) * h) - g(sig - (k + 1) * h)) for k, ck in enumerate(c)) / h
    exact = heights_checks.exact(lambda m, s: heights_checks.gaussian(x, m, s), mu, sig)[1]
    assert np.max(np.abs(got - exact)) / np.max(np.abs(exact)) < heights_checks.EXACT_TOLERANCE


@pytest.mark.parametrize("way", NUMERICAL_DERIVATIVES)
def test_check_rejects_a_numerical_derivative_however_exact(solution, way):
    """In the tests and in the grader's own call; the notebook's f is put back."""
    name, source, seen = NUMERICAL_DERIVATIVES[way]
    model = solution["f"]
    cases = [(100, 2026, 2000), (13, 34, 1)] if name == "steepest_step" else [(100, 2026), (1, 14)]
    with installed(solution, {name: None}):
        exec(source, solution)  # a cell of the notebook: its function reads the notebook's globals
        with pytest.raises(CheckFailed, match=re.escape(seen)) as failed:
            heights_checks.check(solution, name, cases)
        assert failed.value.mistake == f"{name}/numerical-derivative"
        assert str(failed.value).startswith(f"{name} is not right yet.")
        for case in heights_checks.grader_cases(4)[name]:
            with pytest.raises(CheckFailed) as failed:
                heights_checks.answer(solution, name, case)
            assert failed.value.mistake == f"{name}/numerical-derivative"
    assert solution["f"] is model


#: Right derivatives that call f, at the x, mu and sig given or at others altogether: they keep full marks.
RIGHT_FORMS = {
    "f centred at zero": ("dfdmu", """
def dfdmu(x, mu, sig):
    return f(x - mu, 0, sig) * (x - mu) / sig / sig
"""),
    "a loop over the bars, and floats": ("dfdsig", """
def dfdsig(x, mu, sig):
    d = np.zeros(len(x))
    for k in range(len(x)):
        d[k] = f(x[k], mu, sig) * ((x[k] - mu) ** 2 / float(sig) ** 3 - 1 / sig)
    return d
"""),
    "in terms of dfdmu, with math": ("dfdsig", """
import math
def dfdsig(x, mu, sig):
    return dfdmu(x, mu, sig) * (x - mu) / sig - f(x, mu, sig) / math.sqrt(sig * sig)
"""),
    "its own Gaussian, sig * sig": ("dfdsig", """
def dfdsig(x, mu, sig):
    gauss = np.exp(-(x - mu) * (x - mu) / (2 * sig * sig)) / (sig * np.sqrt(2 * np.pi))
    return gauss * ((x - mu) ** 2 - sig * sig) / (sig * sig * sig)
"""),
    "chi2's residual and np.sum": ("steepest_step", """
def steepest_step(x, y, mu, sig, aggression):
    residual = y - f(x, mu, sig)
    J = np.array([-2 * np.sum(residual * dfdmu(x, mu, sig)), -2 * np.sum(residual * dfdsig(x, mu, sig))])
    return -aggression * J
"""),
}


@pytest.mark.parametrize("form", RIGHT_FORMS)
def test_right_forms_that_call_f_pass(solution, form):
    name, source = RIGHT_FORMS[form]
    cases = [(100, 2026, 2000), (13, 34, 1)] if name == "steepest_step" else [(100, 2026), (7, 12), (1, 14)]
    with installed(solution, {name: None}):
        exec(source, solution)
        heights_checks.check(solution, name, cases)
        for case in heights_checks.grader_cases(4)[name]:
            heights_checks.judge(name, case, heights_checks.answer(solution, name, case))


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


# --- issue 11: the data first, the contour window, the knobs, the notation --------------------

LEARNER = REPO / "2-FittingDistribution.ipynb"
#: Start points of the run: the notebook's, and the corner "Now play" invites, which climbs to sigma ~ 56 cm.
STARTS = [(155.0, 6.0, 2000), (150.0, 2.0, 2000), (150.0, 2.0, 5000)]


def cells_of(path):
    return nbformat.read(path, as_version=4).cells


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def markdown_text(path):
    return "\n".join(cell.source for cell in cells_of(path) if cell.cell_type == "markdown")


def fitting_cell(path=SOURCE):
    """The code cell that names the fit's knobs and takes the steps."""
    found = [c for c in cells_of(path) if c.cell_type == "code" and "aggression = " in c.source]
    assert len(found) == 1, "expected one fitting cell that sets aggression"
    return found[0]


def pixels_per_cm(ax):
    """(pixels per cm of mu across, pixels per cm of sigma up) as drawn."""
    ax.figure.canvas.draw()
    (mu_low, mu_high), (sig_low, sig_high) = ax.get_xlim(), ax.get_ylim()
    box = ax.get_window_extent()
    return box.width / (mu_high - mu_low), box.height / (sig_high - sig_low)


@pytest.mark.slow
def test_learner_notebook_shows_the_data_before_the_first_exercise():
    """Run the learner copy up to its first test cell: a figure comes out before the first exercise."""
    notebook = nbformat.read(LEARNER, as_version=4)
    first_test = next(i for i, c in enumerate(notebook.cells) if grade_id(c).startswith("test_"))
    first_exercise = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    assert first_exercise < first_test
    notebook.cells = notebook.cells[:first_test]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    with_figures = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"
                    and any("image/png" in o.get("data", {}) for o in c.outputs)]
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert with_figures and with_figures[0] < first_exercise, (with_figures, first_exercise)


def test_the_data_figure_shows_the_bars_with_their_units():
    x, y = heights.heights_data()
    ax = heights.draw_data(x, y).axes[0]
    bars = ax.patches
    assert len(bars) == len(x)
    assert np.allclose([bar.get_width() for bar in bars], heights.BIN_WIDTH)
    assert np.allclose([bar.get_height() for bar in bars], y)
    assert "(cm)" in ax.get_xlabel() and "per cm" in ax.get_ylabel()
    low, high = ax.get_xlim()
    assert low <= x[y > 0].min() - heights.BIN_WIDTH / 2 and high >= x[y > 0].max() + heights.BIN_WIDTH / 2


@pytest.mark.parametrize("mu, sig, aggression", STARTS)
def test_contour_window_holds_the_whole_path_at_equal_scales(solution, mu, sig, aggression):
    path = descend(solution, mu=mu, sig=sig, aggression=aggression)
    ax = heights.contour(solution["f"], path).axes[0]
    (mu_low, mu_high), (sig_low, sig_high) = ax.get_xlim(), ax.get_ylim()
    assert mu_low < path[:, 0].min() and path[:, 0].max() < mu_high
    assert sig_low < path[:, 1].min() and path[:, 1].max() < sig_high
    # The margin: no point of the path within 1 cm of the frame.
    assert min(path[:, 0].min() - mu_low, mu_high - path[:, 0].max(),
               path[:, 1].min() - sig_low, sig_high - path[:, 1].max()) >= 1.0
    # The spec's region stays in view, and a cm is as long across as up on the screen.
    assert mu_low <= 150 and mu_high >= 200 and sig_low <= 2 and sig_high >= 35
    assert ax.get_aspect() == 1.0
    across, up = pixels_per_cm(ax)
    assert across == pytest.approx(up, rel=1e-3)


def test_from_the_corner_the_path_climbs_out_of_the_old_window(solution):
    """(150, 2) is the start "Now play" suggests: its path leaves sigma < 35 cm, which the old window cut off."""
    path = descend(solution, mu=150.0, sig=2.0)
    assert path[:, 1].max() > 50


def test_contour_window_of_a_run_that_blew_up():
    """A path through sigma < 0, ending in NaN: the window holds its finite points and shades sigma <= 0."""
    def gaussian(x, mu, sig):
        return np.exp(-((x - mu) ** 2) / (2 * sig**2)) / (sig * np.sqrt(2 * np.pi))

    path = np.array([[185.0, 1.0], [260.0, -1750.0], [np.nan, np.nan]])
    (mu_low, mu_high), (sig_low, sig_high) = heights.contour_window(path)
    assert mu_low < 185 and mu_high > 260 and sig_low < -1750 and sig_high >= 35
    with np.errstate(all="raise"):
        figure = heights.contour(gaussian, path)
    assert "no Gaussian" in " ".join(text.get_text() for text in figure.legends[0].get_texts())


@pytest.mark.parametrize("mu, sig, aggression", STARTS)
def test_chi_squared_panel_shows_the_path_going_down(solution, mu, sig, aggression):
    x, y = heights.heights_data()
    path = descend(solution, mu=mu, sig=sig, aggression=aggression)
    figure = heights.contour(solution["f"], path)
    panel = figure.axes[1]
    (line,) = panel.lines
    want = [solution["chi2"](x, y, m, s) for m, s in path]
    assert np.array_equal(line.get_xdata(), np.arange(len(path)))
    assert line.get_ydata() == pytest.approx(want, rel=1e-12)
    assert np.all(np.diff(line.get_ydata()) <= 0), "chi^2 rose on a step"
    assert line.get_ydata()[-1] < line.get_ydata()[0] / 2
    assert panel.get_yscale() == "log"
    assert "step" in panel.get_xlabel() and "chi" in panel.get_ylabel()


def test_fitting_cell_names_its_knobs_and_uses_them(solution):
    """The start point, the aggression and the steps are variables of one cell, and "Now play" names them."""
    source = fitting_cell().source
    for knob in ("mu0, sig0 = 155, 6", "aggression = 2000", "steps = 50"):
        assert knob in source
    assert "steepest_step(x, y, mu, sig, aggression)" in source and "range(steps)" in source
    play = next(c.source for c in cells_of(SOURCE) if c.source.startswith("## Now play"))
    assert all(name in play for name in ("`mu0, sig0", "`aggression`", "`steps`"))
    x, y = heights.heights_data()
    for knobs, start in [("mu0, sig0 = 155, 6", (155, 6)), ("mu0, sig0 = 150, 2", (150, 2))]:
        namespace = {**solution, "x": x, "y": y}
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            exec(source.replace("mu0, sig0 = 155, 6", knobs).replace("steps = 50", "steps = 7"), namespace)
        assert namespace["path"].shape == (8, 2) and tuple(namespace["path"][0]) == start
        assert "after 7 steps" in printed.getvalue()
    assert np.array_equal(namespace["path"], descend(solution, steps=7, mu=150.0, sig=2.0))


@pytest.mark.parametrize("path", [SOURCE, LEARNER], ids=["source", "learner"])
def test_no_bare_bin_width_in_the_code(path):
    code = "\n".join(c.source for c in cells_of(path) if c.cell_type == "code")
    assert not re.search(r"(?<![\w.])2\.5(?![\d])", code)
    assert "heights.BIN_WIDTH" in code


def test_chi_squared_is_said_to_be_unweighted_once():
    markdown = [c.source for c in cells_of(LEARNER) if c.cell_type == "markdown"]
    assert sum("unweighted" in text for text in markdown) == 1


def test_learner_derives_dfdsig_from_named_pieces():
    """The pieces of d/dsig are named in the learner's notebook, but their values are not given."""
    text = markdown_text(LEARNER)
    for named in (r"\frac{\mathrm d A}{\mathrm d \sigma}", r"\frac{\partial u}{\partial \sigma}", r"f = A\, e^{u}"):
        assert named in text
    for given in (r"-\frac{A}{\sigma}", r"\sigma^2\sqrt{2\pi}", r"\sigma^3", "sig ** 3", r"\frac{f}{\sigma}"):
        assert given not in text, f"the notebook gives away {given!r}"
    (cell,) = [c for c in cells_of(LEARNER) if grade_id(c) == "dfdsig"]
    assert "raise NotImplementedError()" in cell.source and "return" not in cell.source


def test_notation_is_stated_once_and_the_step_follows_it(solution):
    """J in code has the parameters' shape (2,); the step is -aggression J^T, checked against chi^2 itself."""
    markdown = [c.source for c in cells_of(LEARNER) if c.cell_type == "markdown"]
    assert sum("parameters' own shape" in text for text in markdown) == 1
    assert any(r"-\,\text{aggression} \times \mathbf J^{\mathsf T}" in text for text in markdown)
    x, y = heights.heights_data()
    mu, sig, h = 170.0, 9.0, 1e-4
    chi2 = solution["chi2"]
    J = np.array([(chi2(x, y, mu + h, sig) - chi2(x, y, mu - h, sig)) / (2 * h),
                  (chi2(x, y, mu, sig + h) - chi2(x, y, mu, sig - h)) / (2 * h)])
    step = solution["steepest_step"](x, y, mu, sig, 2000)
    assert step.shape == (2,)
    assert step == pytest.approx(-2000 * J, rel=1e-6)


def test_explore_sliders_redraw_the_model_they_are_moved_to(monkeypatch):
    """The optional widget: two sliders, starting where asked, that redraw histogram(f, [mu, sig]) on each change."""
    drawn = []

    def record(f, p, limits=None):
        drawn.append(tuple(p))
        return plt.figure()

    monkeypatch.setattr(heights, "histogram", record)
    with contextlib.redirect_stdout(io.StringIO()):
        widget = heights.explore(lambda x, mu, sig: 0 * x, mu=150, sig=2)
        mu, sig = widget.children[0].children
        assert (mu.value, sig.value) == (150, 2) and drawn == [(150, 2)]
        assert "cm" in mu.description and "cm" in sig.description and not mu.continuous_update
        mu.value = 180.5
        sig.value = 7.5
    assert drawn[-2:] == [(180.5, 2), (180.5, 7.5)]
    assert plt.get_fignums() == [], "each redraw closes its figure"


def test_explore_is_in_the_play_section_after_all_graded_work():
    """The widget is never needed to pass: its cell comes after every graded cell."""
    cells = cells_of(LEARNER)
    (index,) = [i for i, c in enumerate(cells) if "heights.explore(" in c.source]
    assert all(i < index for i, c in enumerate(cells) if grade_id(c))
