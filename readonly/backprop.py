"""Helpers for 1-Backpropagation: the training data, the training loop and the rise-over-run check.

The pictures are in readonly/backprop_pictures.py, what makes a drawing a heart in readonly/backprop_heart.py;
the ones the notebook uses are reachable from here.

Shapes are written (rows, columns); N is the number of training examples,
n1 and n2 the sizes of the two hidden layers.  Importing this module draws
nothing and changes nothing.
"""
import os
from dataclasses import dataclass, field

import numpy as np

from readonly.backprop_checks import PARAMETERS  # the six parameters: declared with the checks, which plot nothing
from readonly.backprop_pictures import (  # noqa: F401 -- the notebook draws through this module
    LiveDisplay,
    TrainingPicture,
    draw_curves,
    draw_network,
    draw_training,
    live_available,
)
from readonly.backprop_heart import (  # noqa: F401 -- the notebook and the tests reach the heart through this module
    NOTCH_TOLERANCE,
    distance_to_curve,
    draw_beside_reference,
    draws_a_heart,
    heart_distances,
    heart_landmarks,
)
from readonly.drawing import pyplot

#: Each of the six parameters paired with the name of its Jacobian function.
JACOBIANS = {name: "J_" + name for name in PARAMETERS}



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


#: About this many faint curves make the fan, whatever the number of steps.
FAN_CURVES = 100


@dataclass
class Training:
    """What plot_training did.

    costs: (iterations + 1,), the cost before each step and, last, after the final step.
    kept_step: the step whose network plot_training kept (the one with the lowest cost);
        costs[kept_step] is its cost and `output` its drawing.
    output: (2, N), what the kept network draws, a3.
    snapshots: the network's output a3, each (2, N), at the steps in snapshot_steps.
    snapshot_steps: 0, every, 2 every, ... and the last step.
    figure: the matplotlib figure it drew.
    live: whether the figure was redrawn in the notebook while training ran.
    frames: how many times it was drawn in the notebook while training ran (the first
        showing included, the finished figure not); 0 when not live.
    """

    costs: np.ndarray
    kept_step: int
    output: np.ndarray = field(repr=False)
    snapshots: list = field(repr=False)
    snapshot_steps: list = field(repr=False)
    figure: object = field(repr=False)
    live: bool = False
    frames: int = 0

    @property
    def final_cost(self):
        """The cost of the network left in the namespace: the lowest cost seen."""
        return float(self.costs[self.kept_step])

    @property
    def last_cost(self):
        """The cost after the last (noisy) step, which may be a spike."""
        return float(self.costs[-1])


def _check_shape(name, jacobian, parameter):
    if np.shape(jacobian) != parameter.shape:
        raise ValueError(
            f"{name} returned shape {np.shape(jacobian)}, but its parameter has shape "
            f"{parameter.shape}; a Jacobian has one entry per parameter. "
            "Run the tests under its cell to see what is wrong."
        )


def fan_spacing(iterations):
    """The steps between two curves of the fan: 100 for 10,000 steps, so about FAN_CURVES curves."""
    return max(1, -(-iterations // FAN_CURVES))


def plot_training(x, y, iterations=10000, aggression=3.5, noise=1, *, network, random=None, every=None,
                  live=None):
    """Train the network by steepest descent on all N points, drawing what it learns.

    x: (1, N) and y: (2, N), as from training_data().
    network: the namespace holding W1, W2, W3, b1, b2, b3, network_function,
        cost and the six functions J_W1 ... J_b3; in a notebook, pass globals().
    Each step computes all six Jacobians at the current weights, multiplies
    each by its own random factor (1 + noise * xi), xi ~ N(0, 1), and moves
    every parameter by -aggression times its Jacobian.  A large factor now and
    then throws the network off, so the cost of the last step may be a spike:
    plot_training keeps the network with the lowest cost it saw (before any
    step or after the last), leaves that one in `network` (so training can be
    continued from it) and draws it as the final output.
    random: anything with a standard_normal(size) method, such as
        np.random.default_rng(seed); a fresh generator when None.
    every: the steps between two faint curves of the fan; by default about
        FAN_CURVES curves, whatever the number of steps.
    live: redraw the figure in the notebook while training runs: None (the
        default) does so in a Jupyter kernel with the inline backend, unless the
        notebook is being graded; False draws once, at the end.

    Returns a Training with the cost history, the kept step, the snapshots and the figure.
    """
    random = np.random.default_rng() if random is None else random
    every = fan_spacing(iterations) if every is None else every
    costs = np.empty(iterations + 1)
    snapshots, steps = [], []
    # Drawn live, the figure grows with training; otherwise it is made at the end (a figure alive
    # during training slows every step a little: Python's garbage collector walks through it).
    picture = screen = None
    if live_available() if live is None else live:
        picture = TrainingPicture(y, iterations, every)
        screen = LiveDisplay(picture)
    kept_step, kept = 0, None
    try:
        for step in range(iterations + 1):
            costs[step] = network["cost"](x, y)
            if kept is None or costs[step] < costs[kept_step]:
                kept_step, kept = step, {name: network[name] for name in PARAMETERS}
            if step % every == 0 or step == iterations:
                snapshots.append(network["network_function"](x)[-1])
                steps.append(step)
                if screen is not None:
                    picture.add_snapshot(step, snapshots[-1])
            if screen is not None:
                screen.update(costs[:step + 1])
            if step < iterations:
                _step(x, y, network, aggression, noise * random.standard_normal(len(PARAMETERS)), check=step == 0)
    except BaseException:
        if screen is not None:  # its last frame stays on screen; pyplot must not show the figure again
            pyplot().close(picture.figure)
        raise
    network.update(kept)  # the weights are rebound at every step, so these arrays are as they were
    output = network["network_function"](x)[-1]
    if picture is None:
        picture = TrainingPicture(y, iterations, every)
        for step, snapshot in zip(steps, snapshots):
            picture.add_snapshot(step, snapshot)
    figure = picture.finish(costs, kept_step, output)
    frames = 0
    if screen is not None:
        frames = screen.frames + 1
        screen.close()
    return Training(costs=costs, kept_step=kept_step, output=output, snapshots=snapshots,
                    snapshot_steps=steps, figure=figure, live=screen is not None, frames=frames)


def _step(x, y, network, aggression, noises, check):
    """One step of steepest descent: every parameter moves by -aggression * (1 + noise) * its Jacobian.

    noises: (6,), one noise * xi per parameter, in the order of PARAMETERS.
    check: whether to check the Jacobians' shapes first (on the first step; they do not change).
    """
    jacobians = [network[JACOBIANS[name]](x, y) for name in PARAMETERS]
    for name, jacobian, scaled_noise in zip(PARAMETERS, jacobians, noises):
        if check:
            _check_shape(JACOBIANS[name], jacobian, network[name])
        network[name] = network[name] - aggression * (1 + scaled_noise) * jacobian


@dataclass
class RiseOverRun:
    """One derivative checked by rise over run.

    slope: (C(p + h) - C(p)) / h, the cost's change over the nudge of one entry of a parameter p.
    entry: the same entry of the learner's Jacobian, or None when it could not be computed.
    agree: whether the two agree within the tolerance.
    """

    slope: float
    entry: float
    agree: bool


def rise_over_run(network, function, x, y, entry=(0, 0), h=1e-6, tolerance=1e-3):
    """Nudge one entry of a parameter by h and compare the cost's rise over run with the learner's Jacobian.

    network: the notebook's namespace (globals()), holding the parameters, cost and `function`.
    function: the name of a Jacobian function, such as "J_b3"; its parameter is the name after "J_".
    entry: (row, column) of the parameter to nudge; h: the nudge.
    tolerance: they agree when |slope - entry| <= tolerance * max(|slope|, |entry|), so
        to 0.1 % (the rise over run itself is off by about h/2 times the second derivative).
    Prints both numbers and the verdict, and returns a RiseOverRun.  The parameter is
    put back as it was, and a function that is still a stub is reported, not raised.
    While the notebook is graded (NBGRADER_EXECUTION set) it does nothing and returns None.
    """
    if os.environ.get("NBGRADER_EXECUTION"):  # a function that never returns must not hold up grading
        print("Rise over run is skipped while the notebook is graded.")
        return None
    name = function[2:]
    parameter = network[name]
    before = network["cost"](x, y)
    nudged = parameter.copy()
    nudged[entry] += h
    network[name] = nudged
    try:
        after = network["cost"](x, y)
    finally:
        network[name] = parameter
    slope = float((after - before) / h)
    where = f"{name}[{entry[0]}, {entry[1]}]"
    print(f"rise over run, (C({where} + h) - C) / h: {slope:.6g}   (h = {h:g})")
    try:
        jacobian = np.asarray(network[function](x, y), dtype=float)
        value = float(jacobian[entry])
    except NotImplementedError:
        print(f"your {function}: not written yet; write {function} first, then run this cell again.")
        return RiseOverRun(slope, None, False)
    except Exception as error:  # noqa: BLE001 -- anything a half-written function raises is reported
        print(f"your {function}: raised {type(error).__name__}: {error}; its test cell says more.")
        return RiseOverRun(slope, None, False)
    finally:
        network[name] = parameter
    agree = bool(abs(slope - value) <= tolerance * max(abs(slope), abs(value)))
    print(f"your {function}[{entry[0]}, {entry[1]}]:{' ' * (len(where) + 21 - len(function))}{value:.6g}")
    if agree:
        print(f"They agree to within {tolerance:.1%}.")
    else:
        print(f"They differ by more than {tolerance:.1%}: {function} is not the derivative yet.")
    return RiseOverRun(slope, value, agree)
