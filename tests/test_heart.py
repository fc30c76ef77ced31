"""Issue 19, item 2: what "a heart" means (readonly.backprop.draws_a_heart), the reference the notebook
draws beside the learner's curve, and training at the notebook's settings still drawing it."""
import json
import re

import nbformat
import numpy as np
import pytest
from conftest import REPO
from notebook_code import run_cells

from readonly import backprop
from readonly.backprop_heart import REFERENCE, draw_beside_reference

SOURCE = REPO / "source" / "backprop" / "1-Backpropagation.ipynb"
DOC = REPO / "docs" / "heart.md"


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


def shield(y, roof=0.74):
    """The target with its top cut flat at `roof`: lobes and notch gone, as on the seeds that keep a shield."""
    flat = y.copy()
    top = flat[1] > roof
    flat[1, top] = roof
    flat[1, 0] = roof  # the notch point too (it lies below the roof)
    near_notch = np.abs(flat[0] - 0.5) < 0.12
    flat[1, near_notch & (flat[1] > 0.5)] = roof
    return flat


def test_the_target_is_a_heart_and_a_flat_top_is_not():
    x, y = backprop.training_data()
    assert backprop.heart_distances(y, y) == {"notch": 0.0, "right lobe": 0.0, "left lobe": 0.0}
    assert backprop.draws_a_heart(y, y)
    assert not backprop.draws_a_heart(shield(y), y)
    assert backprop.heart_distances(shield(y), y)["notch"] > 0.1



def test_distance_to_a_curve_counts_the_segment_that_closes_it():
    square = np.array([[0, 1, 1, 0], [0, 0, 1, 1]], dtype=float)
    assert backprop.distance_to_curve(np.array([0.5, -0.2]), square) == pytest.approx(0.2)
    assert backprop.distance_to_curve(np.array([0.5, 0.5]), square) == pytest.approx(0.5)
    assert backprop.distance_to_curve(np.array([-0.1, 0.5]), square) == pytest.approx(0.1)  # last point to first
    assert backprop.distance_to_curve(np.array([2.0, 2.0]), square) == pytest.approx(np.sqrt(2))


def test_the_reference_is_what_its_numbers_say_at_the_notebooks_settings(reference):
    """Made by benchmarks/heart.py --write at the settings the training cell passes; its curves' numbers hold."""
    notebook = nbformat.read(SOURCE, as_version=4)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "plot_training(" in c.source]
    settings = reference["settings"]
    assert f"iterations={settings['iterations']}, aggression={settings['aggression']:g}, " \
           f"noise={settings['noise']:g}" in cell.source
    x, y = backprop.training_data()
    notches = []
    for which in ("worst", "median", "best"):
        curve = reference["curves"][which]
        output = np.array(curve["output"])
        assert output.shape == y.shape
        notches.append(backprop.heart_distances(output, y)["notch"])
        assert notches[-1] == pytest.approx(curve["notch"], abs=2e-4)
        assert backprop.draws_a_heart(output, y) == curve["heart"]
    assert notches == sorted(notches, reverse=True)
    assert reference["tolerance"] == backprop.NOTCH_TOLERANCE


def test_docs_table_agrees_with_the_reference(reference):
    rows = [line for line in DOC.read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    table = rows[:reference["of"]]  # the first table is the notebook's settings
    assert len(table) == reference["of"] == 20
    assert sum(line.split("|")[8].strip() == "yes" for line in table) == reference["hearts"]
    for curve in reference["curves"].values():
        (line,) = [r for r in table if r.startswith(f"| {curve['seed']} |")]
        assert f"| {curve['notch']:.3f} |" in line


def test_the_notebook_draws_the_learners_curve_beside_the_reference(reference):
    notebook = nbformat.read(SOURCE, as_version=4)
    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    training = next(i for i, s in enumerate(sources) if "plot_training(" in s)
    assert "draw_beside_reference(network_function(x)[-1], y, seed)" in sources[training + 1]
    x, y = backprop.training_data()
    figure = draw_beside_reference(shield(y), y, seed=1)
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 4 and titles[0].startswith("Yours (seed 1)") and "no notch yet" in titles[0]
    assert all(f"seed {reference['curves'][w]['seed']}" in t for w, t in zip(("worst", "median", "best"), titles[1:]))
    assert "a heart" in titles[3]
    assert f"a heart on {reference['hearts']} of 20 seeds" in figure.get_suptitle()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [17, 8, 0])
def test_training_at_the_notebooks_settings_draws_what_the_table_says(reference, seed):
    """Seeds 17 and 8 draw the heart (notch 0.003 and 0.004 away), seed 0 a shield (0.078): training that
    stops reaching the notch fails here.  Seeds 17 and 0 are the reference's best and worst curves."""
    namespace = run_cells(SOURCE, ["imports", "network", "J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1"])
    settings = reference["settings"]
    x, y = backprop.training_data()
    namespace["reset_network"](random=np.random.default_rng(seed))
    training = backprop.plot_training(x, y, iterations=settings["iterations"], aggression=settings["aggression"],
                                      noise=settings["noise"], network=namespace,
                                      random=np.random.default_rng(seed), live=False)
    notch = backprop.heart_distances(training.output, y)["notch"]
    assert backprop.draws_a_heart(training.output, y) == (seed != 0)
    assert notch < 0.01 if seed != 0 else notch > 0.06
    for curve in reference["curves"].values():
        if curve["seed"] == seed:
            np.testing.assert_allclose(training.output, curve["output"], atol=0.01)
