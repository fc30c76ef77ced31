"""Helpers for 1-Backpropagation: the training data, the training loop and two pictures.

Shapes are written (rows, columns); N is the number of training examples,
n1 and n2 the sizes of the two hidden layers.  Importing this module draws
nothing and changes nothing.
"""
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize

#: The six parameters, each paired with the name of its Jacobian function.
PARAMETERS = ("W1", "W2", "W3", "b1", "b2", "b3")
JACOBIANS = {name: "J_" + name for name in PARAMETERS}

TRAINING_COLOUR = "#1b9e77"
PROGRESS_COLOUR = "#7570b3"
FINAL_COLOUR = "#d95f02"
#: The fan of snapshots, light (early in training) to dark (late).
FAN_COLOURMAP = "Purples"


def training_data(N=100):
    """The heart curve the network learns to draw.

    Returns
    x: (1, N), how far along the curve each point is: 0, 1/N, ..., (N-1)/N.
    y: (2, N), the curve's two coordinates, scaled into [0, 1].
    """
    x = np.arange(N).reshape(1, N) / N
    t = 2 * np.pi * x
    across = 16 * np.sin(t) ** 3
    up = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    y = np.vstack([across, up]) / 20
    return x, (y + 1) / 2


@dataclass
class Training:
    """What plot_training did.

    costs: (iterations + 1,), the cost before each step and, last, after the final one.
    snapshots: the network's output a3, each (2, N), every `every` steps and at the end.
    figure: the matplotlib figure it drew.
    """

    costs: np.ndarray
    snapshots: list = field(repr=False)
    figure: object = field(repr=False)

    @property
    def final_cost(self):
        """The cost after the last step."""
        return float(self.costs[-1])


def _check_shape(name, jacobian, parameter):
    if np.shape(jacobian) != parameter.shape:
        raise ValueError(
            f"{name} returned shape {np.shape(jacobian)}, but its parameter has shape "
            f"{parameter.shape}; a Jacobian has one entry per parameter. "
            "Run the tests under its cell to see what is wrong."
        )


def plot_training(x, y, iterations=10000, aggression=3.5, noise=1, *, network, random=None, every=100):
    """Train the network by steepest descent on all N points, then draw what it learned.

    x: (1, N) and y: (2, N), as from training_data().
    network: the namespace holding W1, W2, W3, b1, b2, b3, network_function,
        cost and the six functions J_W1 ... J_b3; in a notebook, pass globals().
        The weights in it are updated, so training can be continued.
    Each step computes all six Jacobians at the current weights, multiplies
    each by its own random factor (1 + noise * xi), xi ~ N(0, 1), and moves
    every parameter by -aggression times its Jacobian.
    random: anything with a standard_normal() method, such as
        np.random.default_rng(seed); a fresh generator when None.
    every: draw the network's output every this many steps, as a faint curve.

    Returns a Training with the cost history, the snapshots and the figure.
    """
    random = np.random.default_rng() if random is None else random
    costs = np.empty(iterations + 1)
    snapshots = []
    for step in range(iterations):
        if step % every == 0:
            snapshots.append(network["network_function"](x)[-1])
        costs[step] = network["cost"](x, y)
        jacobians = {name: network[JACOBIANS[name]](x, y) for name in PARAMETERS}
        for name, jacobian in jacobians.items():
            _check_shape(JACOBIANS[name], jacobian, network[name])
            factor = 1 + noise * random.standard_normal()
            network[name] = network[name] - aggression * factor * jacobian
    costs[iterations] = network["cost"](x, y)
    snapshots.append(network["network_function"](x)[-1])
    figure = draw_training(y, snapshots, costs, every=every)
    return Training(costs=costs, snapshots=snapshots, figure=figure)


def _closed(curve):
    """The (2, N) curve with its first point repeated at the end, so it draws closed."""
    return np.hstack([curve, curve[:, :1]])


def draw_training(y, snapshots, costs, every=None):
    """Draw what training did: the curves on [0, 1]^2 at the left, the cost at the right.

    Left: the training curve, the fan of snapshots coloured from light (early)
    to dark (late), and the final output.  Right: the cost at every step and its
    running median, on a logarithmic scale.
    y: (2, N); snapshots: list of (2, N), the last one the final output;
    costs: the cost history; every: the steps between snapshots (inferred when None).
    Returns the figure; its first axes are the square [0, 1]^2.
    """
    iterations = len(costs) - 1
    if every is None:
        every = max(1, round(iterations / max(1, len(snapshots) - 1)))
    steps = [min(k * every, iterations) for k in range(len(snapshots) - 1)] + [iterations]
    fan = plt.get_cmap(FAN_COLOURMAP)
    shade = Normalize(0, max(1, iterations))

    figure, (ax, cost_ax) = plt.subplots(1, 2, figsize=(9.5, 4.8), width_ratios=(1, 1.1),
                                         facecolor="white", layout="constrained")
    for step, snapshot in zip(steps[:-1], snapshots[:-1]):
        ax.plot(*_closed(snapshot), color=fan(0.3 + 0.7 * shade(step)), alpha=0.35, linewidth=1)
    ax.plot([], [], color=fan(0.75), linewidth=1.5, label=f"every {every} steps (darker: later)")
    ax.plot(*_closed(y), color=TRAINING_COLOUR, linewidth=4, alpha=0.85, label="training curve $y$")
    ax.plot(*_closed(snapshots[-1]), color=FINAL_COLOUR, linewidth=2.2, label="final output $a^{(3)}$")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("first output $a^{(3)}_0$")
    ax.set_ylabel("second output $a^{(3)}_1$")
    ax.set_title("What the network draws")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small", frameon=False)

    cost_ax.semilogy(costs, color=PROGRESS_COLOUR, linewidth=0.7, alpha=0.45, label="cost at each step")
    window = min(101, iterations + 1)
    if window >= 3:
        median = np.median(np.lib.stride_tricks.sliding_window_view(costs, window), axis=1)
        cost_ax.semilogy(np.arange(window // 2, window // 2 + median.size), median, color=fan(0.95),
                         linewidth=2, label=f"median of {window} steps")
    cost_ax.plot([0], [costs[0]], "o", color=TRAINING_COLOUR, markersize=7, label=f"before training: {costs[0]:.3g}")
    cost_ax.plot([iterations], [costs[-1]], "o", color=FINAL_COLOUR, markersize=7,
                 label=f"after {iterations} steps: {costs[-1]:.3g}")
    cost_ax.set_xlim(-0.02 * iterations, 1.03 * iterations + 1)
    cost_ax.set_xlabel("training step")
    cost_ax.set_ylabel("cost $C$ (mean squared distance, log scale)")
    cost_ax.set_title("The cost while training")
    cost_ax.grid(True, which="major", alpha=0.4)
    cost_ax.legend(loc="upper right", fontsize="small", framealpha=0.9)
    figure.suptitle(f"{iterations} steps of steepest descent: cost {costs[0]:.3g} → {costs[-1]:.3g}")
    return figure


def draw_network(sizes=(1, 6, 7, 2)):
    """Draw a fully connected network with the given layer sizes; returns the figure."""
    figure, ax = plt.subplots(figsize=(6.5, 3.8), facecolor="white")
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
        ax.text(layer, -tallest / 2 - 0.15, f"{role}\n$a^{{({layer})}}$: {units}", ha="center", va="top")
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-tallest / 2 - 1.3, tallest / 2 + 0.7)
    ax.axis("off")
    ax.set_title("The network: every unit applies σ to a weighted sum of the layer before")
    figure.tight_layout()
    return figure
