"""The pictures of 1-Backpropagation: the network, the curves before training, and training as it goes.

Shapes are written (rows, columns); N is the number of training examples.  Importing this module
draws nothing, changes nothing and imports no matplotlib (readonly/drawing.py: a graded run draws nothing).
"""
import io
import os
import time

import numpy as np

from readonly.drawing import picture, pyplot

TRAINING_COLOUR = "#1b9e77"
PROGRESS_COLOUR = "#7570b3"
FINAL_COLOUR = "#d95f02"
#: The fan of snapshots, light (early in training) to dark (late).
FAN_COLOURMAP = "Purples"
#: The cost panel's range before training shows where the cost goes (it widens at the end if needed).
COST_RANGE = (1e-4, 1.0)
#: The opacity of the cost at each step: while training runs, and at the end, under its running median.
LIVE_COST_ALPHA = 0.9
FINISHED_COST_ALPHA = 0.45


def closed_curve(curve):
    """The (2, N) curve with its first point repeated at the end, so it draws closed."""
    return np.hstack([curve, curve[:, :1]])


def _square_axes(ax, title):
    """Square axes on [0, 1]^2, labelled with the two outputs."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("output 1: $a^{(3)}_{1,k}$ and $y_{1,k}$")
    ax.set_ylabel("output 2: $a^{(3)}_{2,k}$ and $y_{2,k}$")
    ax.set_title(title)


class TrainingPicture:
    """The training picture, built while training runs.

    Left: the training curve y, a fan of the network's output every `every`
    steps coloured light (early) to dark (late), and the kept output.  Right:
    the cost at every step and its running median, on a logarithmic scale.
    y: (2, N); iterations: the number of steps; every: the steps between two fan curves.
    """

    def __init__(self, y, iterations, every):
        from matplotlib.colors import Normalize

        self.iterations, self.every = iterations, every
        self.snapshots, self.steps, self.fan_lines = [], [], []
        plt = pyplot()
        self._fan = plt.get_cmap(FAN_COLOURMAP)
        self._shade = Normalize(0, max(1, iterations))
        # Fixed margins rather than a layout engine: redrawing then costs half as much.
        self.figure, (self.ax, self.cost_ax) = plt.subplots(
            1, 2, figsize=(9.5, 5.1), width_ratios=(1, 1.1), facecolor="white",
            gridspec_kw=dict(left=0.075, right=0.985, bottom=0.25, top=0.885, wspace=0.3))
        ax, cost_ax = self.ax, self.cost_ax
        ax.plot([], [], color=self._fan(0.75), linewidth=1.5, label=f"every {every} steps (darker: later)")
        (self.training_line,) = ax.plot(*closed_curve(y), color=TRAINING_COLOUR, linewidth=4, alpha=0.85,
                                        label="training curve $y$", zorder=3)
        (self.output_line,) = ax.plot([], [], color=FINAL_COLOUR, linewidth=2.2, zorder=4,
                                      label="output $a^{(3)}$: latest; at the end, the kept one")
        _square_axes(ax, "What the network draws")
        # Both legends below their axes, side by side (one column here, so that the two do not meet).
        ax.legend(loc="upper left", bbox_to_anchor=(-0.2, -0.13), fontsize="small", frameon=False)
        # Solid while training runs, so that the live panel is readable; finish() fades it under the median.
        (self.cost_line,) = cost_ax.semilogy([], [], color=PROGRESS_COLOUR, linewidth=0.9, alpha=LIVE_COST_ALPHA,
                                             label="cost at each step")
        cost_ax.set_xlim(-0.02 * iterations, 1.03 * iterations + 1)
        cost_ax.set_ylim(*COST_RANGE)
        cost_ax.set_xlabel("training step")
        cost_ax.set_ylabel("cost $C$ (mean squared distance, log scale)")
        cost_ax.set_title("The cost while training")
        cost_ax.grid(True, which="major", alpha=0.4)
        self.figure.suptitle(f"Training: {iterations} steps of steepest descent")

    def add_snapshot(self, step, output):
        """Add the network's output at this step, (2, N), to the fan; returns its line."""
        self.snapshots.append(output)
        self.steps.append(step)
        (line,) = self.ax.plot(*closed_curve(output), color=self._fan(0.3 + 0.7 * self._shade(step)), alpha=0.35,
                               linewidth=1, zorder=2)
        self.fan_lines.append(line)
        return line

    def show_costs(self, costs):
        """Draw the cost curve up to the latest step; costs: (steps so far,)."""
        self.cost_line.set_data(np.arange(costs.size), costs)

    def finish(self, costs, kept_step, output):
        """Complete the picture: the whole cost history (iterations + 1,), its median, the kept output (2, N)."""
        fan, cost_ax = self._fan, self.cost_ax
        self.show_costs(costs)
        self.cost_line.set_alpha(FINISHED_COST_ALPHA)
        self.output_line.set_data(*closed_curve(output))
        window = min(101, costs.size)
        if window >= 3:
            median = np.median(np.lib.stride_tricks.sliding_window_view(costs, window), axis=1)
            cost_ax.semilogy(np.arange(window // 2, window // 2 + median.size), median, color=fan(0.95),
                             linewidth=2, label=f"median of {window} steps")
        cost_ax.plot([0], [costs[0]], "o", color=TRAINING_COLOUR, markersize=7,
                     label=f"before training: {costs[0]:.3g}")
        cost_ax.plot([kept_step], [costs[kept_step]], "o", color=FINAL_COLOUR, markersize=7,
                     label=f"lowest, kept: {costs[kept_step]:.3g} (step {kept_step})")
        cost_ax.set_ylim(min(COST_RANGE[0], costs.min() / 2), max(COST_RANGE[1], costs.max() * 1.5))
        # Below the axes, as the curves' legend is: inside, it would cover the spikes.
        cost_ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.13), ncols=2, fontsize="small", frameon=False)
        self.figure.suptitle(f"{self.iterations} steps of steepest descent: cost {costs[0]:.3g} → "
                             f"{costs[kept_step]:.3g} (lowest, kept)")
        return self.figure


def draw_training(y, snapshots, costs, every=None, kept_step=None):
    """Draw what training did, after the fact: the curves on [0, 1]^2 at the left, the cost at the right.

    y: (2, N); snapshots: list of (2, N), taken every `every` steps (inferred when
    None), the last one at the end; costs: the cost history (iterations + 1,);
    kept_step: the step whose output is drawn as the final one (the lowest cost when None).
    Returns the figure; its first axes are the square [0, 1]^2.
    """
    iterations = len(costs) - 1
    if every is None:
        every = max(1, round(iterations / max(1, len(snapshots) - 1)))
    kept_step = int(np.argmin(costs)) if kept_step is None else kept_step
    picture = TrainingPicture(y, iterations, every)
    for n, snapshot in enumerate(snapshots):
        picture.add_snapshot(min(n * every, iterations), snapshot)
    nearest = min(range(len(snapshots)), key=lambda n: abs(picture.steps[n] - kept_step))
    return picture.finish(np.asarray(costs), kept_step, snapshots[nearest])


def live_available():
    """Whether figures can be redrawn in place: a Jupyter kernel with the inline backend, not being graded."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return getattr(shell, "kernel", None) is not None and "inline" in pyplot().get_backend()


class LiveDisplay:
    """Shows a TrainingPicture in the notebook and redraws it in place while training runs.

    The figure is displayed once with a display id (IPython's display handle) and
    each frame updates that output, in JupyterLab, Notebook 7 and other Jupyter
    front ends.  A frame only adds what changed (the new fan curves, the cost
    curve, the latest output) to the pixels of the last one, and is sent as a PNG.
    interval: the fewest seconds between two frames.
    share: the largest fraction of the time since the first frame that drawing the
        later frames may take, so that they slow training down by about that much
        at most.  The first frame, a full drawing of the figure, costs about 0.1 s
        more; the finished figure is drawn once more at the end, as it would be
        without live drawing.
    handle: where frames go, an IPython DisplayHandle (a new one by default).
    """

    def __init__(self, picture, interval=0.3, share=0.06, handle=None):
        from IPython.display import DisplayHandle

        self.picture, self.interval, self.share = picture, interval, share
        self.handle = DisplayHandle() if handle is None else handle
        self.frames, self.drawing = 0, 0.0
        self._drawn = 0  # fan curves already in the pixels
        self._last = -np.inf
        canvas = picture.figure.canvas
        picture.training_line.set_visible(False)  # drawn over the fan in every frame instead
        canvas.draw()  # the whole figure once: the layout, the axes, the labels
        self._fan_pixels = canvas.copy_from_bbox(picture.ax.bbox)
        self._cost_pixels = canvas.copy_from_bbox(picture.cost_ax.bbox)
        picture.training_line.set_visible(True)
        picture.ax.draw_artist(picture.training_line)
        self.handle.display(self._image(self._png()))
        self._started = time.perf_counter()

    def update(self, costs, force=False):
        """Draw a frame if one is due; costs: (steps so far,).  Returns whether it drew."""
        now = time.perf_counter()
        due = now - self._last >= self.interval and self.drawing <= self.share * (now - self._started)
        if not (due or force):
            return False
        self._frame(costs)
        self._last = time.perf_counter()
        self.drawing += self._last - now
        return True

    def _frame(self, costs):
        picture, canvas = self.picture, self.picture.figure.canvas
        canvas.restore_region(self._fan_pixels)
        for line in picture.fan_lines[self._drawn:]:
            picture.ax.draw_artist(line)
        self._drawn = len(picture.fan_lines)
        self._fan_pixels = canvas.copy_from_bbox(picture.ax.bbox)
        picture.ax.draw_artist(picture.training_line)
        if picture.snapshots:
            picture.output_line.set_data(*closed_curve(picture.snapshots[-1]))
            picture.ax.draw_artist(picture.output_line)
        canvas.restore_region(self._cost_pixels)
        picture.show_costs(costs)
        picture.cost_ax.draw_artist(picture.cost_line)
        self.handle.update(self._image(self._png()))
        self.frames += 1

    def _png(self, compress_level=1):
        """The canvas's pixels as PNG bytes, quickly compressed (level 1: 20 ms where level 6 takes 50)."""
        from PIL import Image as PILImage

        canvas = self.picture.figure.canvas
        buffer = io.BytesIO()
        PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
            buffer, format="png", compress_level=compress_level)
        return buffer.getvalue()

    @staticmethod
    def _image(png):
        from IPython.display import Image

        return Image(data=png, format="png")

    def close(self):
        """Replace the last frame with the finished figure, drawn in full, and keep pyplot from showing it again."""
        self.picture.figure.canvas.draw()
        self.handle.update(self._image(self._png()))
        self.frames += 1
        pyplot().close(self.picture.figure)


@picture
def draw_network(sizes=(1, 6, 7, 2)):
    """Draw a fully connected network with the given layer sizes; returns the figure."""
    figure, ax = pyplot().subplots(figsize=(6.5, 3.8), facecolor="white")
    tallest = max(sizes)
    positions = []
    for layer, size in enumerate(sizes):
        heights = np.arange(size) - (size - 1) / 2
        positions.append([(layer, h) for h in heights])
    for layer in range(1, len(sizes)):
        for x0, h0 in positions[layer - 1]:
            for x1, h1 in positions[layer]:
                ax.plot([x0, x1], [h0, h1], color="0.65", linewidth=0.7, zorder=1)
        ax.text(layer - 0.5, tallest / 2 + 0.1, f"$W^{{({layer})}}, b^{{({layer})}}$", ha="center")
    for layer, column in enumerate(positions):
        colour = TRAINING_COLOUR if layer in (0, len(sizes) - 1) else PROGRESS_COLOUR
        ax.scatter(*zip(*column), s=320, color=colour, edgecolor="black", zorder=2)
        role = "input" if layer == 0 else "output" if layer == len(sizes) - 1 else f"hidden layer {layer}"
        units = f"{sizes[layer]} unit{'s' * (sizes[layer] > 1)}"
        what = "$a^{(0)} = x$, no σ" if layer == 0 else f"$a^{{({layer})}}$"
        ax.text(layer, -tallest / 2 - 0.15, f"{role}\n{what}: {units}", ha="center", va="top")
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-tallest / 2 - 1.3, tallest / 2 + 0.7)
    ax.axis("off")
    ax.set_title("The network: the input unit holds $x$; every other unit applies σ\n"
                 "to a weighted sum of the layer before, plus its bias", fontsize="medium")
    figure.tight_layout()
    return figure


@picture
def draw_curves(y, output):
    """The target and the network's drawing side by side on [0, 1]^2, before any training.

    y: (2, N), the training curve; output: (2, N), what the network draws, a3.
    Dots mark every fifth example, the first (x = 0) ringed, to show where the curve starts.
    Returns the figure.
    """
    figure, axes = pyplot().subplots(1, 2, figsize=(8.5, 4.4), facecolor="white", layout="constrained")
    for ax, curve, colour, title in ((axes[0], y, TRAINING_COLOUR, "The target: the training curve $y$"),
                                     (axes[1], output, FINAL_COLOUR, "What the untrained network draws, $a^{(3)}$")):
        ax.plot(*closed_curve(curve), color=colour, linewidth=2.5)
        ax.plot(*curve[:, ::5], "o", color=colour, markersize=4)
        ax.plot(*curve[:, :1], "o", markersize=11, markerfacecolor="none", markeredgecolor="black",
                label="the first example, $x = 0$")
        _square_axes(ax, title)
        ax.legend(loc="lower center", fontsize="small", frameon=False)
    axes[1].plot(*closed_curve(y), color=TRAINING_COLOUR, linewidth=1, alpha=0.4, label="the target, for comparison")
    axes[1].legend(loc="lower center", fontsize="small", frameon=False)
    return figure
