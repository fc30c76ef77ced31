"""Helpers for 2-FittingDistribution: the heights data and two pictures of a fit.

Shapes are written (rows, columns); every array of the data has one entry
per histogram bin, 100 of them.  A model f is called as f(x, mu, sig) and
must work entry by entry on NumPy arrays, as the notebook's Gaussian does.
Importing this module draws nothing and changes nothing, and imports no matplotlib: the pictures
import it when they first draw, and while nbgrader runs the notebook they draw nothing
(readonly/drawing.py says why that changes no grade).
"""
import numpy as np

from readonly.drawing import picture, pyplot

# The region the contour plot always shows, in cm (it grows to hold the whole path), is where the checks
# draw (mu, sig) from: declared with them, which import no plotting code.
from readonly.heights_checks import MU_RANGE, SIG_RANGE

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
#: The margin around the path: this fraction of its larger extent, and at least MIN_MARGIN cm.
MARGIN = 0.06
MIN_MARGIN = 1.0
#: The narrowest Gaussian the landscape is drawn for, in cm (a tenth of a bar); none for sigma <= 0.
MIN_SIG = 0.25
#: The top of the sliders' histogram, in probability per cm: fixed, so that two positions can be compared.
#: It holds the data (highest bar 0.053) and any Gaussian with sigma above 1 / (SLIDER_TOP sqrt(2 pi)) = 4.4 cm;
#: a narrower one is cut off at the top, and the title gives its peak.
SLIDER_TOP = 0.09
#: Points of the landscape's grid along the longer side of the window.
GRID = 201

# Okabe-Ito colours, distinguishable with every common colour-vision deficiency.
BOTH_COLOUR = "#56B4E9"    # sky blue: under both data and model (the smaller of the two)
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


@picture
def draw_data(x, y):
    """Draw the heights data as bars; returns the figure.

    x: (N,), the bin centres in cm; y: (N,), the probability density of each
    bin, per cm.  Each bar is BIN_WIDTH wide, so the bars' total area is the
    sum of y times BIN_WIDTH.
    """
    figure, ax = pyplot().subplots(figsize=(7.5, 3.8), facecolor="white")
    ax.bar(x, y, width=BIN_WIDTH, align="center", color=DATA_COLOUR, edgecolor="white", linewidth=0.6)
    ax.set_xlim(*VIEW)
    ax.set_xlabel("height $x$ (cm)")
    ax.set_ylabel("probability density (per cm)")
    ax.set_title(f"The heights data: bars {BIN_WIDTH:g} cm wide, total area "
                 f"{float(np.sum(y)) * BIN_WIDTH:.3g}")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    figure.tight_layout()
    return figure


def chi_squared(f, x, y, mu, sig):
    """chi^2 = sum over the bars of (y - f(x, mu, sig))^2, for x and y of shape (N,); a float."""
    residual = y - f(x, mu, sig)
    return float(residual @ residual)


def _view(mu, sig):
    """The x-range to draw: VIEW, widened to show the model's bulk, within the data's bins."""
    low = max(FIRST_EDGE, min(VIEW[0], mu - 3 * sig))
    high = min(FIRST_EDGE + BINS * BIN_WIDTH, max(VIEW[1], mu + 3 * sig))
    return low, high


@picture
def histogram(f, p, limits=None):
    """Draw the data as bars against the model f with p = (mu, sig); returns the figure.

    Each bar is split into the part under both data and model (the smaller of
    the two), where the model exceeds the data and where the data exceed the
    model.  The model curve is f(x, mu, sig) on a fine grid; chi^2 is in the
    title.  limits: ((x_low, x_high), (y_low, y_high)) to fix the axes (the
    sliders do, so that two positions can be compared); by default they fit
    the data and the model.
    """
    mu, sig = (float(value) for value in np.ravel(p)[:2])
    x, y = heights_data()
    model = f(x, mu, sig)
    both = np.minimum(y, model)
    figure, ax = pyplot().subplots(figsize=(7.5, 4.2), facecolor="white")
    bars = dict(width=BIN_WIDTH, align="center", edgecolor="white", linewidth=0.6)
    ax.bar(x, both, color=BOTH_COLOUR, label="under both data and model", **bars)
    ax.bar(x, np.maximum(model - y, 0), bottom=both, color=MODEL_COLOUR, hatch="//",
           label="model exceeds data", **bars)
    ax.bar(x, np.maximum(y - model, 0), bottom=both, color=DATA_COLOUR,
           label="data exceed model", **bars)
    (low, high), y_limits = limits if limits is not None else (_view(mu, sig), None)
    fine = np.linspace(low, high, 600)
    curve = f(fine, mu, sig)
    ax.plot(fine, curve, color=CURVE_COLOUR, linewidth=2.2,
            label=f"model $f(x;\\,\\mu, \\sigma)$")
    ax.set_xlim(low, high)
    top = max(float(np.max(y)), float(np.max(curve)))
    ax.set_ylim(*(y_limits if y_limits is not None else (0, 1.3 * top)))
    cut = f" (peak {float(np.max(curve)):.3g}, above the window)" if np.max(curve) > ax.get_ylim()[1] else ""
    ax.set_xlabel("height $x$ (cm)")
    ax.set_ylabel("probability density (per cm)")
    ax.set_title(f"$\\mu$ = {mu:.2f} cm, $\\sigma$ = {sig:.2f} cm:   "
                 f"$\\chi^2$ = {chi_squared(f, x, y, mu, sig):.3g} per cm²{cut}")
    ax.legend(loc="upper right", ncols=2, fontsize="small", framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    figure.tight_layout()
    return figure


@picture
def explore(f, mu=155.0, sig=6.0):
    """Sliders for mu and sig that redraw histogram(f, [mu, sig]) when let go; returns the widget.

    The axes are the same at every position (VIEW across, 0 to SLIDER_TOP up), so that two positions
    can be compared.

    mu and sig (cm) are where the sliders start.  Needs ipywidgets, which
    JupyterLab 4 and Notebook 7 show; it is imported here, so that importing
    this module needs only NumPy and matplotlib.
    """
    import ipywidgets as widgets
    from IPython.display import display

    def slider(value, low, high, label):
        return widgets.FloatSlider(value=float(np.clip(value, low, high)), min=low, max=high, step=0.25,
                                   description=label, continuous_update=False, readout_format=".2f",
                                   layout=widgets.Layout(width="48%"))

    sliders = {"mu": slider(mu, VIEW[0], VIEW[1], "μ (cm)"), "sig": slider(sig, 1.0, 40.0, "σ (cm)")}

    def draw(mu, sig):
        figure = histogram(f, [mu, sig], limits=(VIEW, (0.0, SLIDER_TOP)))
        display(figure)
        pyplot().close(figure)

    return widgets.VBox([widgets.HBox(list(sliders.values())), widgets.interactive_output(draw, sliders)])


def chi_squared_grid(f, mus, sigs):
    """chi^2 of the heights data at every (mu, sig): for mus (m,) and sigs (s,), returns (s, m)."""
    x, y = heights_data()
    model = f(x[:, None, None], mus[None, None, :], sigs[None, :, None])  # (100, s, m)
    residual = y[:, None, None] - model
    return np.sum(residual * residual, axis=0)


def contour_window(path):
    """The window of the landscape, ((mu_low, mu_high), (sig_low, sig_high)) in cm.

    path: (steps, 2), rows (mu, sig).  The window holds MU_RANGE by SIG_RANGE
    and every finite point of the path with a margin around it; it starts at
    sigma = 0 unless the path goes below that.  Rows with NaN or infinity,
    from a run that blew up, are left out.
    """
    finite = path[np.all(np.isfinite(path), axis=1)]
    low = np.array([MU_RANGE[0], SIG_RANGE[0]])
    high = np.array([MU_RANGE[1], SIG_RANGE[1]])
    if len(finite):
        margin = max(MARGIN * float(np.max(np.ptp(finite, axis=0))), MIN_MARGIN)
        low = np.minimum(low, finite.min(axis=0) - margin)
        high = np.maximum(high, finite.max(axis=0) + margin)
        if finite[:, 1].min() > 0:
            low[1] = max(low[1], 0.0)
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


def _grid(window):
    """The grid of the landscape in window: mus (m,) and sigs (s,), equally spaced in cm both ways."""
    (mu_low, mu_high), (sig_low, sig_high) = window
    spacing = max(mu_high - mu_low, sig_high - sig_low) / (GRID - 1)
    mus = np.linspace(mu_low, mu_high, max(2, round((mu_high - mu_low) / spacing) + 1))
    sig_from = max(sig_low, MIN_SIG)
    sigs = np.linspace(sig_from, sig_high, max(2, round((sig_high - sig_from) / spacing) + 1))
    return mus, sigs


def _levels(chi2):
    """25 logarithmically spaced contour levels spanning the finite positive values of chi2 (any shape)."""
    finite = chi2[np.isfinite(chi2) & (chi2 > 0)]
    high = float(np.max(finite)) if finite.size else 1.0
    low = max(float(np.min(finite)) if finite.size else high, high * 1e-12)
    if high <= low * (1 + 1e-9):
        low, high = low / 10, high * 10
    return np.geomspace(low, high, 25)


def path_chi_squared(f, path):
    """chi^2 of the heights data at each row (mu, sig) of path (steps, 2); returns (steps,)."""
    x, y = heights_data()
    with np.errstate(all="ignore"):
        return np.array([chi_squared(f, x, y, mu, sig) for mu, sig in path])


def _draw_landscape(ax, f, path, window):
    """Fill ax with the chi^2 landscape over window, the path (steps, 2) on top; returns the filled contours."""
    mus, sigs = _grid(window)
    with np.errstate(all="ignore"):
        chi2 = np.ma.masked_invalid(chi_squared_grid(f, mus, sigs))
    # Gaussians narrower than SIG_RANGE's lowest are spikes between the bar centres, whose huge
    # chi^2 would take most of the colours: they get the top colour instead.
    usual = chi2[sigs >= SIG_RANGE[0]] if np.any(sigs >= SIG_RANGE[0]) else chi2
    levels = _levels(np.ma.filled(usual, np.nan))
    from matplotlib.colors import LogNorm

    filled = ax.contourf(mus, sigs, chi2, levels=levels, cmap="viridis", norm=LogNorm(), extend="both")
    ax.contour(mus, sigs, chi2, levels=levels[::2], colors="black", linewidths=0.5, alpha=0.45)
    (mu_low, mu_high), (sig_low, sig_high) = window
    if sig_low < 0:
        ax.axhspan(sig_low, 0, facecolor="0.85", edgecolor="0.55", hatch="//", linewidth=0,
                   label="$\\sigma \\leq 0$: no Gaussian")
    ax.plot(path[:, 0], path[:, 1], color=PATH_COLOUR, linewidth=1.6, marker="o", markersize=3.5,
            markeredgecolor="black", markeredgewidth=0.5, label="steepest-descent path")
    ax.plot(*path[0], "o", color=PATH_COLOUR, markersize=8, markeredgecolor="black", label="start")
    ax.plot(*path[-1], "*", color=LAST_COLOUR, markersize=17, markeredgecolor="black",
            label=f"last: $\\mu$ = {path[-1, 0]:.2f} cm, $\\sigma$ = {path[-1, 1]:.2f} cm")
    if sig_low < SIG_RANGE[0] < sig_high:
        # Narrower Gaussians than this are narrower than a bar: chi^2 sees them only at the bar centres,
        # so it rises and falls with mu every BIN_WIDTH as the peak passes over a centre and between two.
        ax.axhline(SIG_RANGE[0], color="black", linestyle=":", linewidth=1.2,
                   label=f"below $\\sigma$ = {SIG_RANGE[0]:g} cm: narrower than a bar, $\\chi^2$ ripples with $\\mu$")
    ax.set_xlim(mu_low, mu_high)
    ax.set_ylim(sig_low, sig_high)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("mean $\\mu$ (cm)")
    ax.set_ylabel("standard deviation $\\sigma$ (cm)")
    ax.set_title(f"$\\chi^2$ landscape and {len(path) - 1} steps of steepest descent\n"
                 "(equal scales: 1 cm across is 1 cm up)", fontsize="medium")
    return filled


def _draw_chi_squared_per_step(ax, values):
    """Plot chi^2 (steps,) against the step number in ax, on a log scale when every value is positive."""
    from matplotlib.ticker import MaxNLocator

    ax.plot(np.arange(len(values)), values, color=LAST_COLOUR, marker="o", markersize=3.5, linewidth=1.4)
    shown = values[np.isfinite(values)]
    if shown.size and np.all(shown > 0):
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("$\\chi^2$ (per cm²)")
    ax.set_title("$\\chi^2$ after each step" + (" (logarithmic scale)" if ax.get_yscale() == "log" else ""),
                 fontsize="medium")
    ax.grid(alpha=0.3, which="both")


@picture
def contour(f, p):
    """Draw the chi^2 landscape of the model f with the path p on it, and chi^2 per step; returns the figure.

    p: (steps, 2), one row (mu, sig) per point of the path, in cm, first to
    last; one row (2,) draws a single point.  The landscape covers MU_RANGE by
    SIG_RANGE and the whole path with a margin (contour_window), with the
    same scale in cm across and up, so that each step of steepest descent is
    drawn perpendicular to the contours, as it is.  Its colours are on a
    logarithmic scale, since chi^2 spans orders of magnitude.  The figure's
    axes are: the landscape, chi^2 against the step number, the colour bar.
    """
    path = np.atleast_2d(np.asarray(p, dtype=float))
    window = contour_window(path)
    (mu_low, mu_high), (sig_low, sig_high) = window
    tall = (sig_high - sig_low) / (mu_high - mu_low)
    height = float(np.clip(6.4 * tall + 1.6, 4.4, 9.0))
    figure, (ax, steps_ax) = pyplot().subplots(1, 2, figsize=(12.5, height), width_ratios=(2.1, 1),
                                          layout="constrained", facecolor="white")
    filled = _draw_landscape(ax, f, path, window)
    _draw_chi_squared_per_step(steps_ax, path_chi_squared(f, path))
    colourbar = figure.colorbar(filled, ax=ax, format="%.1e", shrink=0.9)
    colourbar.set_label("$\\chi^2$ (per cm², logarithmic scale)")
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4,
                  fontsize="small", framealpha=0.9)
    return figure
