"""Does training draw the heart?  The 20-seed table of docs/heart.md, rerun.

    python benchmarks/heart.py [--seeds 0-19] [--iterations N --aggression A --noise S] [--write]

Trains the master notebook's reference network (its own cells, correct Jacobians) once per seed, as
the notebook's training cell does: reset_network and plot_training both seeded with the seed, and by
default the iterations, aggression and noise that cell passes (read from it).  For each seed it prints
the cost before training, the kept cost and step, how far the kept curve passes from the heart's notch
and from the tops of its two lobes, whether it draws a heart (readonly.backprop.draws_a_heart: the
curve comes within NOTCH_TOLERANCE of the notch) and the seconds plot_training took (drawn once, at
the end, as outside a live notebook).

--write (only at the notebook's settings) also writes the pictures of the worst, median and best seed
(ranked by their distance from the notch) to docs/pictures/heart-*.png and their kept curves to
readonly/backprop_reference.json, which the notebook draws beside the learner's.
"""
import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readonly import backprop  # noqa: E402
from readonly.backprop_heart import REFERENCE  # noqa: E402

SOURCE = REPO / "source" / "backprop" / "1-Backpropagation.ipynb"
CELLS = ("imports", "network", "J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1")
PICTURES = REPO / "docs" / "pictures"


def notebook_settings(path=SOURCE):
    """The iterations, aggression and noise the notebook's training cell passes to plot_training."""
    notebook = nbformat.read(path, as_version=4)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "plot_training(" in c.source]
    found = {name: float(re.search(rf"\b{name}=([0-9.]+)", cell.source).group(1))
             for name in ("iterations", "aggression", "noise")}
    return {"iterations": int(found["iterations"]), "aggression": found["aggression"], "noise": found["noise"]}


def reference_network(path=SOURCE):
    """The master notebook's network and reference Jacobians, run in-process (its folder the working directory)."""
    notebook = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__notebook__"}
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in CELLS:
                exec(compile(cell.source, f"{path.name}:{cell.metadata['nbgrader']['grade_id']}", "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace


def train(network, seed, iterations, aggression, noise):
    """One seed as the notebook trains it: (Training, seconds of plot_training)."""
    import matplotlib.pyplot as plt

    x, y = backprop.training_data()
    network["reset_network"](random=np.random.default_rng(seed))
    started = time.perf_counter()
    training = backprop.plot_training(x, y, iterations=iterations, aggression=aggression, noise=noise,
                                      network=network, random=np.random.default_rng(seed), live=False)
    seconds = time.perf_counter() - started
    plt.close(training.figure)
    return training, seconds


def row(seed, training, seconds, y):
    distances = backprop.heart_distances(training.output, y)
    return {"seed": seed, "cost before": float(training.costs[0]), "kept cost": training.final_cost,
            "kept step": training.kept_step, **distances,
            "heart": backprop.draws_a_heart(training.output, y), "seconds": seconds,
            "output": training.output}


def table(rows):
    lines = ["| seed | cost before | kept cost | kept at step | notch | right lobe | left lobe | heart | seconds |",
             "|---:|---:|---:|---:|---:|---:|---:|:---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['cost before']:.3f} | {r['kept cost']:.2e} | {r['kept step']} "
                     f"| {r['notch']:.3f} | {r['right lobe']:.3f} | {r['left lobe']:.3f} "
                     f"| {'yes' if r['heart'] else 'no'} | {r['seconds']:.2f} |")
    return "\n".join(lines)


def ranked(rows):
    """The worst, median and best rows by distance from the notch (the median: the lower of the middle two)."""
    order = sorted(rows, key=lambda r: r["notch"], reverse=True)
    return {"worst": order[0], "median": order[(len(order) - 1) // 2], "best": order[-1]}


def picture(which, r, y, settings):
    import matplotlib.pyplot as plt

    from readonly.backprop_pictures import FINAL_COLOUR, TRAINING_COLOUR, closed_curve

    figure, ax = plt.subplots(figsize=(4, 4), facecolor="white", layout="constrained")
    ax.plot(*closed_curve(y), color=TRAINING_COLOUR, linewidth=4, alpha=0.5, label="the target")
    ax.plot(*closed_curve(r["output"]), color=FINAL_COLOUR, linewidth=2, label="the kept network")
    ax.add_patch(plt.Circle(y[:, 0], backprop.NOTCH_TOLERANCE, fill=False, linestyle=":", color="black",
                            label=f"within {backprop.NOTCH_TOLERANCE} of the notch"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{which}: seed {r['seed']}, cost {r['kept cost']:.2e}\nnotch {r['notch']:.3f} away: "
                 f"{'a heart' if r['heart'] else 'no heart'} ({settings['iterations']:,} steps)", fontsize="medium")
    ax.legend(loc="lower center", fontsize="x-small", frameon=False)
    path = PICTURES / f"heart-{which}.png"
    figure.savefig(path, dpi=72)
    plt.close(figure)
    return path


def seeds_of(text):
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-19", help="a range, such as 0-19, or one seed")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--aggression", type=float)
    parser.add_argument("--noise", type=float)
    parser.add_argument("--write", action="store_true",
                        help="write docs/pictures/heart-*.png and readonly/backprop_reference.json")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    settings = notebook_settings()
    ours = {k: getattr(args, k) for k in settings if getattr(args, k) is not None}
    if args.write and any(ours[k] != settings[k] for k in ours):
        parser.error("--write draws the notebook's own settings: leave out --iterations, --aggression and --noise")
    settings.update(ours)
    print(f"settings: {settings} (the notebook's: {notebook_settings()})", flush=True)
    network = reference_network()
    x, y = backprop.training_data()
    rows = []
    for seed in seeds_of(args.seeds):
        rows.append(row(seed, *train(network, seed, **settings), y))
        r = rows[-1]
        print(f"seed {seed}: kept cost {r['kept cost']:.2e}, notch {r['notch']:.3f}, heart {r['heart']}, "
              f"{r['seconds']:.2f} s", file=sys.stderr, flush=True)
    print(table(rows))
    seconds = [r["seconds"] for r in rows]
    print(f"\nhearts: {sum(r['heart'] for r in rows)} of {len(rows)}; plot_training took "
          f"{statistics.median(seconds):.2f} s (median), {min(seconds):.2f} to {max(seconds):.2f} s")
    if args.write:
        chosen = ranked(rows)
        reference = {"settings": settings, "tolerance": backprop.NOTCH_TOLERANCE, "seeds": f"{args.seeds}",
                     "hearts": sum(r["heart"] for r in rows), "of": len(rows),
                     "curves": {which: {"seed": r["seed"], "kept cost": round(r["kept cost"], 7),
                                        "notch": round(r["notch"], 4), "heart": r["heart"],
                                        "output": np.round(r["output"], 4).tolist()}
                                for which, r in chosen.items()}}
        REFERENCE.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
        for which, r in chosen.items():
            print("wrote", picture(which, r, y, settings).relative_to(REPO))
        print("wrote", REFERENCE.relative_to(REPO))
    return rows


if __name__ == "__main__":
    main()
