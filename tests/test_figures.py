"""The figures of both notebooks (issue 19, item 7), checked without a browser: legends, fixed axes, where things are."""
import contextlib
import io
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import REPO

from readonly import backprop_pictures, heights
from readonly.backprop import training_data


def gaussian(x, mu, sig):
    return np.exp(-(x - mu) ** 2 / (2 * sig ** 2)) / (sig * np.sqrt(2 * np.pi))


def markdown(path):
    cells = json.loads((REPO / path).read_text(encoding="utf-8"))["cells"]
    return [("".join(cell["source"])) for cell in cells if cell["cell_type"] == "markdown"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_the_histogram_legend_says_what_the_blue_part_is():
    """The blue part of a bar is min(data, model): the part under both, not where they 'agree'."""
    figure = heights.histogram(gaussian, [170, 8])
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "under both data and model" in labels
    assert not any("agree" in label for label in labels)
    x, y = heights.heights_data()
    blue = figure.axes[0].containers[0]
    assert [bar.get_height() for bar in blue] == pytest.approx(np.minimum(y, gaussian(x, 170, 8)))


def test_the_slider_histogram_keeps_its_axes_as_mu_and_sigma_move(monkeypatch):
    """Two positions of the sliders can be compared: the same x and y limits at every position, holding the data."""
    limits, drawn = [], heights.histogram

    def record(f, p, **options):
        figure = drawn(f, p, **options)
        ax = figure.axes[0]
        limits.append((ax.get_xlim(), ax.get_ylim(), ax.get_title()))
        return figure

    monkeypatch.setattr(heights, "histogram", record)
    with contextlib.redirect_stdout(io.StringIO()):
        widget = heights.explore(gaussian, mu=155, sig=6)
        mu, sig = widget.children[0].children
        for mu_value, sig_value in [(178.5, 7.5), (200, 30), (150, 2), (140, 1), (220, 40)]:
            mu.value, sig.value = mu_value, sig_value
    assert len(limits) >= 6
    assert len({(xlim, ylim) for xlim, ylim, _ in limits}) == 1, limits
    (xlim, ylim, _) = limits[0]
    x, y = heights.heights_data()
    assert xlim[0] <= x[y > 0].min() and x[y > 0].max() <= xlim[1] and ylim[0] == 0 and ylim[1] > y.max()
    assert "above the window" in limits[-2][2]  # sigma = 1: its peak, 0.4 per cm, is cut off and said so
    assert "above the window" not in limits[1][2]


def test_the_histogram_without_limits_still_fits_its_model():
    figure = heights.histogram(gaussian, [160, 2])
    assert figure.axes[0].get_ylim()[1] > gaussian(160, 160, 2)


def training_picture():
    x, y = training_data()
    rng = np.random.default_rng(0)
    costs = np.geomspace(0.2, 2e-3, 10001) * np.exp(0.3 * rng.standard_normal(10001))
    costs[rng.integers(0, 10001, 40)] *= 50  # spikes, up to the top of the panel
    return y, costs


def test_the_cost_legend_does_not_cover_the_spikes():
    """The cost legend is outside the cost panel (where the spikes are drawn), and clear of the curves' legend."""
    y, costs = training_picture()
    figure = backprop_pictures.draw_training(y, [y] * 101, costs)
    renderer = figure.canvas.get_renderer()
    curves_ax, cost_ax = figure.axes
    cost_legend = cost_ax.get_legend().get_window_extent(renderer)
    assert not cost_legend.overlaps(cost_ax.get_window_extent(renderer))
    assert not cost_legend.overlaps(curves_ax.get_legend().get_window_extent(renderer))
    assert not cost_legend.overlaps(cost_ax.xaxis.get_tightbbox(renderer))
    figure_box = figure.bbox
    assert figure_box.x0 <= cost_legend.x0 and cost_legend.x1 <= figure_box.x1 and cost_legend.y0 >= figure_box.y0
    spikes = cost_ax.get_lines()[0].get_xydata()
    assert np.nanmax(spikes[:, 1]) <= cost_ax.get_ylim()[1], "every spike is inside the panel"


def test_the_live_cost_is_readable_while_training_and_fades_under_the_median_at_the_end():
    y, costs = training_picture()
    picture = backprop_pictures.TrainingPicture(y, 10000, 100)
    picture.show_costs(costs[:2000])
    assert picture.cost_line.get_alpha() >= 0.8 and picture.cost_line.get_linewidth() >= 0.8
    picture.finish(costs, int(np.argmin(costs)), y)
    assert picture.cost_line.get_alpha() < 0.8
    assert any("median" in line.get_label() for line in picture.cost_ax.get_lines())


def test_the_contour_marks_where_the_scallops_begin_and_the_notebook_explains_them():
    """Below sigma = 2 cm a Gaussian is narrower than a bar: chi^2, seen at the bar centres only, ripples with mu."""
    mus = np.linspace(100, 102.5, 11)  # one bar's width, over empty bars: only the model's own part of chi^2 moves
    x, y = heights.heights_data()
    ripple = [np.sum((y - gaussian(x, mu, 1.0)) ** 2) for mu in mus]
    smooth = [np.sum((y - gaussian(x, mu, 4.0)) ** 2) for mu in mus]
    assert np.ptp(ripple) > 0.3 * np.mean(ripple) and np.ptp(smooth) < 1e-3 * np.mean(smooth)
    figure = heights.contour(gaussian, np.array([[150.0, 2.0], [150.5, 1.5], [178.5, 7.55]]))
    marks = [line for line in figure.axes[0].get_lines() if "narrower than a bar" in line.get_label()]
    assert len(marks) == 1 and tuple(marks[0].get_ydata()) == (2.0, 2.0)
    assert any("narrower than a bar" in text.get_text() for text in figure.legends[0].get_texts())
    default = heights.contour(gaussian, np.array([[155.0, 6.0], [178.5, 7.55]]))
    assert default.axes[0].get_ylim()[0] == 2.0  # the default path's window shows no scallops
    text = " ".join(markdown("2-FittingDistribution.ipynb"))
    assert "scalloped" in text and "narrower than\na bar" in text or "narrower than a bar" in text


def test_cell_0_says_where_the_pictures_are():
    """Every helper a notebook's markdown names exists, and backprop's pictures are where cell 0 says."""
    for notebook in ("1-Backpropagation.ipynb", "2-FittingDistribution.ipynb"):
        for path in set(re.findall(r"readonly/\w+\.py", " ".join(markdown(notebook)))):
            assert (REPO / path).is_file(), (notebook, path)
    first = re.sub(r"\s+", " ", markdown("1-Backpropagation.ipynb")[0])
    assert "pictures in `readonly/backprop_pictures.py`" in first
    assert "pictures are written for you, in the helper module `readonly/backprop.py`" not in first
    assert hasattr(backprop_pictures, "draw_training") and hasattr(backprop_pictures, "draw_network")
