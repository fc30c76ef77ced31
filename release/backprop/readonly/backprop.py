"""Helpers for 1-Backpropagation: the training data, the training loop and two pictures.

Shapes are written (rows, columns); N is the number of training examples,
n1 and n2 the sizes of the two hidden layers.  Importing this module draws
nothing and changes nothing.
"""
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

#: The six parameters, each paired with the name of its Jacobian function.
PARAMETERS = ("W1", "W2", "W3", "b1", "b2", "b3")
JACOBIANS = {name: "J_" + name for name in PARAMETERS}

TRAINING_COLOUR = "#1b9e77"
PROGRESS_COLOUR = "#7570b3"
FINAL_COLOUR = "#d95f02"


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
    figure = draw_training(y, snapshots, costs)
    return Training(costs=costs, snapshots=snapshots, figure=figure)


def _closed(curve):
    """The (2, N) curve with its first point repeated at the end, so it draws closed."""
    return np.hstack([curve, curve[:, :1]])


def draw_training(y, snapshots, costs):
    """Draw the training curve, the fan of snapshots and the final output on [0, 1]^2.

    y: (2, N); snapshots: list of (2, N), the last one the final output;
    costs: the cost history, for the title.  Returns the figure.
    """
    figure, ax = plt.subplots(figsize=(5.5, 5.5))
    for snapshot in snapshots[:-1]:
        ax.plot(*_closed(snapshot), color=PROGRESS_COLOUR, alpha=0.12, linewidth=1)
    ax.plot([], [], color=PROGRESS_COLOUR, alpha=0.5, label="output while training")
    ax.plot(*_closed(y), color=TRAINING_COLOUR, linewidth=4, alpha=0.8, label="training curve $y$")
    ax.plot(*_closed(snapshots[-1]), color=FINAL_COLOUR, linewidth=2, label="final output $a^{(3)}$")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("first output $a^{(3)}_0$")
    ax.set_ylabel("second output $a^{(3)}_1$")
    ax.set_title(f"{len(costs) - 1} steps: cost {costs[0]:.3g} → {costs[-1]:.3g}")
    ax.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    return figure


def draw_network(sizes=(1, 6, 7, 2)):
    """Draw a fully connected network with the given layer sizes; returns the figure."""
    figure, ax = plt.subplots(figsize=(6.5, 3.8))
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
        ax.text(layer, -tallest / 2 - 0.4, f"$a^{{({layer})}}$\n{sizes[layer]} unit{'s' * (sizes[layer] > 1)}", ha="center", va="top")
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-tallest / 2 - 1.6, tallest / 2 + 0.7)
    ax.axis("off")
    ax.set_title("The network: every unit applies σ to a weighted sum of the layer before")
    figure.tight_layout()
    return figure
