"""Helpers for 2-FittingDistribution: the heights data and two pictures of a fit.

Shapes are written (rows, columns); every array of the data has one entry
per histogram bin, 100 of them.  A model f is called as f(x, mu, sig) and
must work entry by entry on NumPy arrays, as the notebook's Gaussian does.
Importing this module draws nothing and changes nothing.
"""
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np

#: Width of a histogram bin, in cm.
BIN_WIDTH = 2.5
#: Left edge of the first bin and number of bins: centres 51.25, 53.75, ..., 298.75 cm.
FIRST_EDGE = 50.0
BINS = 100
#: Left edge of the first bin holding data, and the raw frequencies of the bins from there on.
DATA_EDGE = 160.0
FREQUENCIES = (0.031, 0.013, 0.023, 0.064, 0.065, 0.126, 0.132, 0.127, 0.113,
               0.091, 0.105, 0.050, 0.018, 0.018, 0.018, 0.001, 0.0)

#: Where the pictures look: the bins outside this range are empty padding.
VIEW = (140.0, 220.0)
#: The region of the contour plot, in cm.
MU_RANGE = (150.0, 200.0)
SIG_RANGE = (2.0, 35.0)

# Okabe-Ito colours, distinguishable with every common colour-vision deficiency.
BOTH_COLOUR = "#56B4E9"    # sky blue: data and model agree
MODEL_COLOUR = "#E69F00"   # orange: the model exceeds the data
DATA_COLOUR = "#009E73"    # bluish green: the data exceed the model
CURVE_COLOUR = "black"     # the model curve
PATH_COLOUR = "white"
LAST_COLOUR = "#D55E00"    # vermillion: the end of the path


def heights_data():
    """The heights of a population as a histogram, normalised to a probability density.

    Returns
    x: (100,), the bin centres 51.25, 53.75, ..., 298.75 cm; bins are 2.5 cm wide.
    y: (100,), the probability density in each bin, per cm: the bars' total area is 1.
    """
    x = FIRST_EDGE + BIN_WIDTH * (np.arange(BINS) + 0.5)
    y = np.zeros(BINS)
    start = round((DATA_EDGE - FIRST_EDGE) / BIN_WIDTH)
    y[start:start + len(FREQUENCIES)] = FREQUENCIES
    return x, y / (np.sum(y) * BIN_WIDTH)


def chi_squared(f, x, y, mu, sig):
    """chi^2 = sum over the bars of (y - f(x, mu, sig))^2, for x and y of shape (N,); a float."""
    residual = y - f(x, mu, sig)
    return float(residual @ residual)


def _view(mu, sig):
    """The x-range to draw: VIEW, widened to show the model's bulk, within the data's bins."""
    low = max(FIRST_EDGE, min(VIEW[0], mu - 3 * sig))
    high = min(FIRST_EDGE + BINS * BIN_WIDTH, max(VIEW[1], mu + 3 * sig))
    return low, high


def histogram(f, p):
    """Draw the data as bars against the model f with p = (mu, sig); returns the figure.

    Each bar is split where data and model overlap (the part both reach), where
    the model exceeds the data and where the data exceed the model.  The model
    curve is f(x, mu, sig) on a fine grid; chi^2 is in the title.
    """
    mu, sig = (float(value) for value in np.ravel(p)[:2])
    x, y = heights_data()
    model = f(x, mu, sig)
    both = np.minimum(y, model)
    figure, ax = plt.subplots(figsize=(7.5, 4.2), facecolor="white")
    bars = dict(width=BIN_WIDTH, align="center", edgecolor="white", linewidth=0.6)
    ax.bar(x, both, color=BOTH_COLOUR, label="data and model agree", **bars)
    ax.bar(x, np.maximum(model - y, 0), bottom=both, color=MODEL_COLOUR, hatch="//",
           label="model exceeds data", **bars)
    ax.bar(x, np.maximum(y - model, 0), bottom=both, color=DATA_COLOUR,
           label="data exceed model", **bars)
    low, high = _view(mu, sig)
    fine = np.linspace(low, high, 600)
    ax.plot(fine, f(fine, mu, sig), color=CURVE_COLOUR, linewidth=2.2,
            label=f"model $f(x;\\,\\mu, \\sigma)$")
    ax.set_xlim(low, high)
    top = max(float(np.max(y)), float(np.max(f(fine, mu, sig))))
    ax.set_ylim(0, 1.3 * top)
    ax.set_xlabel("height $x$ (cm)")
    ax.set_ylabel("probability density (per cm)")
    ax.set_title(f"$\\mu$ = {mu:.2f} cm, $\\sigma$ = {sig:.2f} cm:   "
                 f"$\\chi^2$ = {chi_squared(f, x, y, mu, sig):.3g} per cm²")
    ax.legend(loc="upper right", ncols=2, fontsize="small", framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    figure.tight_layout()
    return figure


def chi_squared_grid(f, mus, sigs):
    """chi^2 of the heights data at every (mu, sig): for mus (m,) and sigs (s,), returns (s, m)."""
    x, y = heights_data()
    model = f(x[:, None, None], mus[None, None, :], sigs[None, :, None])  # (100, s, m)
    residual = y[:, None, None] - model
    return np.sum(residual * residual, axis=0)


def contour(f, p):
    """Draw the chi^2 landscape of the model f with the path p on it; returns the figure.

    p: (steps, 2), one row (mu, sig) per point of the path, in cm, first to
    last; one row (2,) draws a single point.  The landscape covers MU_RANGE by
    SIG_RANGE; its colours are on a logarithmic scale, since chi^2 spans
    orders of magnitude.
    """
    path = np.atleast_2d(np.asarray(p, dtype=float))
    mus = np.linspace(*MU_RANGE, 201)
    sigs = np.linspace(*SIG_RANGE, 166)
    chi2 = chi_squared_grid(f, mus, sigs)
    figure, ax = plt.subplots(figsize=(7.5, 5.2), facecolor="white")
    levels = np.geomspace(np.min(chi2), np.max(chi2), 25)
    filled = ax.contourf(mus, sigs, chi2, levels=levels, cmap="viridis",
                         norm=LogNorm())
    ax.contour(mus, sigs, chi2, levels=levels[::2], colors="black", linewidths=0.5, alpha=0.45)
    colourbar = figure.colorbar(filled, ax=ax, format="%.1e")
    colourbar.set_label("$\\chi^2$ (per cm², logarithmic scale)")
    ax.plot(path[:, 0], path[:, 1], color=PATH_COLOUR, linewidth=1.6, marker="o", markersize=3.5,
            markeredgecolor="black", markeredgewidth=0.5, label="steepest-descent path")
    ax.plot(*path[0], "o", color=PATH_COLOUR, markersize=8, markeredgecolor="black", label="start")
    ax.plot(*path[-1], "*", color=LAST_COLOUR, markersize=17, markeredgecolor="black",
            label=f"last: $\\mu$ = {path[-1, 0]:.2f} cm, $\\sigma$ = {path[-1, 1]:.2f} cm")
    ax.set_xlim(*MU_RANGE)
    ax.set_ylim(*SIG_RANGE)
    ax.set_xlabel("mean $\\mu$ (cm)")
    ax.set_ylabel("standard deviation $\\sigma$ (cm)")
    ax.set_title(f"$\\chi^2$ landscape and {len(path) - 1} steps of steepest descent")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.9)
    figure.tight_layout()
    return figure
