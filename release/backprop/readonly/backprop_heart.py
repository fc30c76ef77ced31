"""What makes a drawing of 1-Backpropagation a heart, and the picture of the learner's beside correct ones.

A curve (2, N) draws the heart when it comes down into the target's notch, between the two lobes;
docs/heart.md shows why that is the criterion, on seeds 0 to 19.  Importing this module draws
nothing, changes nothing and imports no matplotlib.
"""
import json
from pathlib import Path

import numpy as np

from readonly.backprop_pictures import FINAL_COLOUR, PROGRESS_COLOUR, TRAINING_COLOUR, closed_curve
from readonly.drawing import picture, pyplot

#: What correct Jacobians drew at the notebook's settings: the worst, median and best of seeds 0 to 19,
#: written by benchmarks/heart.py (docs/heart.md).
REFERENCE = Path(__file__).with_name("backprop_reference.json")

#: How close the drawn curve must come to the heart's notch, (0.5, 0.625), for the notch to count as drawn:
#: in units of the picture, whose side is 1.  docs/heart.md shows the pictures this is read from.
NOTCH_TOLERANCE = 0.045


def distance_to_curve(point, curve):
    """The distance from point (2,) to the closed curve (2, N) as drawn: its points joined in order, last to first."""
    start, end = curve, np.roll(curve, -1, axis=1)
    along = end - start
    length = np.maximum((along * along).sum(axis=0), 1e-300)
    t = np.clip(((point[:, None] - start) * along).sum(axis=0) / length, 0, 1)
    nearest = start + t * along
    return float(np.sqrt(((nearest - point[:, None]) ** 2).sum(axis=0)).min())


def heart_landmarks(y):
    """The target's notch (its first point, x = 0) and the tops of its right and left lobes, each (2,)."""
    half = y.shape[1] // 2
    return {"notch": y[:, 0], "right lobe": y[:, int(np.argmax(y[1, :half]))],
            "left lobe": y[:, half + int(np.argmax(y[1, half:]))]}


def heart_distances(output, y):
    """How far the drawn curve output (2, N) passes from each landmark of the target y: a dict of floats."""
    return {name: distance_to_curve(point, output) for name, point in heart_landmarks(y).items()}


def draws_a_heart(output, y, tolerance=NOTCH_TOLERANCE):
    """Whether output (2, N) draws the heart y: it comes down into the notch, between the two lobes.

    A trained curve's top is high on both sides (its corners stand at 0.72 or more), so a curve that
    reaches the notch has a lobe on either side of it; one that does not has a flat or rounded top
    (a shield).  docs/heart.md shows both, on seeds 0 to 19.
    """
    return heart_distances(output, y)["notch"] <= tolerance


@picture
def draw_beside_reference(output, y, seed=None):
    """What the network draws now, output (2, N), beside what correct Jacobians drew at the notebook's settings.

    The three references are the worst, median and best of seeds 0 to 19 (REFERENCE), ranked by how far
    the curve passes from the heart's notch; each panel says how far that is.  Returns the figure.
    """
    reference = json.loads(REFERENCE.read_text())
    steps = reference["settings"]["iterations"]
    plt = pyplot()
    figure, axes = plt.subplots(1, 4, figsize=(12, 3.6), facecolor="white", layout="constrained")
    panels = [(output, FINAL_COLOUR, f"Yours{'' if seed is None else f' (seed {seed})'}")]
    for which, curve in reference["curves"].items():
        panels.append((np.array(curve["output"]), PROGRESS_COLOUR, f"Correct: the {which}, seed {curve['seed']}"))
    for ax, (curve, colour, title) in zip(axes, panels):
        notch = heart_distances(curve, y)["notch"]
        ax.plot(*closed_curve(y), color=TRAINING_COLOUR, linewidth=3, alpha=0.4)
        ax.plot(*closed_curve(curve), color=colour, linewidth=2)
        ax.add_patch(plt.Circle(y[:, 0], NOTCH_TOLERANCE, fill=False, linestyle=":", color="black"))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        shape = "a heart" if notch <= NOTCH_TOLERANCE else "no notch yet"
        ax.set_title(f"{title}\nnotch {notch:.3f} away: {shape}", fontsize="medium")
    figure.suptitle(f"Correct Jacobians after {steps:,} steps at these settings: a heart on {reference['hearts']} of "
                    f"{reference['of']} seeds, a flat top (a shield) on the others; the dotted ring marks the notch",
                    fontsize="medium")
    return figure
