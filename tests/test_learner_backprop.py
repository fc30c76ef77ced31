"""The backprop notebook as a learner meets it (issue 11): honest training, a live figure, the data
first, a rise-over-run check, one seed, one notation."""
import os
import re

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from conftest import REPO
from nbclient import NotebookClient
from notebook_code import run_cells

from readonly import backprop
from readonly.checking import installed

SOURCE = REPO / "source" / "backprop" / "1-Backpropagation.ipynb"
LEARNER = REPO / "1-Backpropagation.ipynb"
FUNCTIONS = ("J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1")


@pytest.fixture(scope="module")
def solution():
    """The master notebook's network and reference Jacobians, run in-process."""
    return run_cells(SOURCE, ["imports", "network", *FUNCTIONS])


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def training_cell(notebook):
    """The one code cell that calls plot_training."""
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "plot_training(" in c.source]
    return cell


def markdown(notebook):
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


# --- 1. Training honest on every seed -------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_training_leaves_a_network_of_low_cost_on_every_seed(solution, seed):
    """The notebook's settings; the network left in the namespace, not the last noisy step, is judged."""
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(seed))
    training = backprop.plot_training(x, y, iterations=10000, aggression=7, noise=1, network=solution,
                                      random=np.random.default_rng(seed))
    left = solution["cost"](x, y)
    assert left <= 3e-3
    assert left == pytest.approx(training.final_cost, rel=1e-12)
    assert 0.1 < training.costs[0] < 0.4


def test_training_keeps_the_lowest_cost_state_and_draws_it(solution):
    """Seed 2 ends on a spike after 300 steps as after 10,000: the kept network is the lowest-cost one."""
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(2))
    training = backprop.plot_training(x, y, iterations=300, aggression=7, noise=1, network=solution,
                                      random=np.random.default_rng(2))
    assert training.kept_step == int(np.argmin(training.costs))
    assert training.final_cost == training.costs.min() <= training.last_cost
    assert solution["cost"](x, y) == pytest.approx(training.final_cost, rel=1e-12)
    np.testing.assert_allclose(training.output, solution["network_function"](x)[-1])
    final_line = training.figure.axes[0].lines[2]  # the fan's legend entry, the training curve, the output
    np.testing.assert_allclose(final_line.get_xydata()[:-1].T, training.output)
    assert f"step {training.kept_step}" in " ".join(t.get_text() for t in training.figure.axes[1].get_legend().texts)


def test_training_can_continue_from_the_kept_network(solution):
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(5))
    first = backprop.plot_training(x, y, iterations=200, aggression=7, noise=1, network=solution,
                                   random=np.random.default_rng(5))
    second = backprop.plot_training(x, y, iterations=200, aggression=7, noise=1, network=solution,
                                    random=np.random.default_rng(6))
    assert second.costs[0] == pytest.approx(first.final_cost, rel=1e-12)
    assert second.final_cost <= first.final_cost


@pytest.mark.parametrize("iterations, every, curves", [(10000, 100, 101), (50000, 500, 101), (250, 3, 85)])
def test_the_fan_has_about_a_hundred_curves_whatever_the_steps(iterations, every, curves):
    assert backprop.fan_spacing(iterations) == every
    steps = [s for s in range(iterations + 1) if s % every == 0 or s == iterations]
    assert len(steps) == curves


def test_a_long_run_draws_a_hundred_fan_curves_not_one_per_hundred_steps(solution):
    x, y = backprop.training_data(20)
    solution["reset_network"](random=np.random.default_rng(0))
    training = backprop.plot_training(x, y, iterations=2000, aggression=7, noise=1, network=solution,
                                      random=np.random.default_rng(0))
    assert len(training.snapshots) == 101 and training.snapshot_steps[:3] == [0, 20, 40]
    fan = [line for line in training.figure.axes[0].lines if line.get_alpha() == 0.35]
    assert len(fan) == 101


@pytest.mark.slow
def test_now_play_numbers_are_the_measured_ones(solution):
    """The "Now play" text's numbers for 50,000 more steps hold for one of the runs they were measured on."""
    play = markdown(nbformat.read(SOURCE, as_version=4)).split("## Now play")[1]
    assert r"between $8 \times 10^{-5}$ and $1.6 \times 10^{-3}$" in play and "iterations=50000" in play
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(1))
    backprop.plot_training(x, y, iterations=10000, aggression=7, noise=1, network=solution,
                           random=np.random.default_rng(1))
    longer = backprop.plot_training(x, y, iterations=50000, aggression=7, noise=1, network=solution,
                                    random=np.random.default_rng(1001))
    # 50,000 chaotic steps amplify the last bits of the machine's BLAS: on this session's machine seed 1 ended at
    # 1.06e-4, not the 3.7e-4 measured before (the same code at 5d1edab gives 1.06e-4 here too).  What the text
    # promises is the range, so the range is what is checked.
    assert 8e-5 <= longer.final_cost <= 1.6e-3
    assert len(longer.snapshots) == 101


def test_now_play_explains_the_spikes_and_states_measured_ranges():
    text = markdown(nbformat.read(SOURCE, as_version=4))
    assert "Why the cost spikes" in text and "lowest cost it saw" in text
    play = text.split("## Now play")[1]
    assert "measured" in play and "seeds 0 to 19" in play


# --- 2. The live figure -----------------------------------------------------------------------------

def test_training_is_drawn_once_outside_a_kernel(solution):
    """Under pytest there is no Jupyter kernel: no live frames, one figure, left to pyplot."""
    x, y = backprop.training_data(10)
    solution["reset_network"](random=np.random.default_rng(0))
    assert not backprop.live_available()
    training = backprop.plot_training(x, y, iterations=5, network=solution, random=np.random.default_rng(0))
    assert training.live is False
    assert plt.fignum_exists(training.figure.number)


def test_nbgrader_execution_turns_live_drawing_off(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not backprop.live_available()


@pytest.fixture(scope="module")
def kernel():
    """A real IPython kernel (ipykernel, inline backend) in the repository, not marked as graded."""
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "NBGRADER_EXECUTION")}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(REPO), env=env)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_in(kernel, code):
    """Run code in the kernel; returns its iopub messages (display_data, update_display_data, stream, ...)."""
    messages = []
    reply = kernel.execute_interactive(code, output_hook=messages.append, timeout=180)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors
    return messages


def displays(messages):
    """(display_data messages, update_display_data messages), each with an image/png."""
    shown = [m["content"] for m in messages if m["msg_type"] == "display_data"]
    updated = [m["content"] for m in messages if m["msg_type"] == "update_display_data"]
    assert all("image/png" in content["data"] for content in shown + updated)
    return shown, updated


@pytest.mark.slow
def test_live_display_updates_its_display_handle_once_per_frame(kernel):
    """Through IPython's real display publisher: one display, then one update per frame and one at the end."""
    messages = run_in(kernel, """
import numpy as np
from readonly import backprop
x, y = backprop.training_data()
picture = backprop.TrainingPicture(y, 300, 100)
screen = backprop.LiveDisplay(picture, interval=0, share=1)
costs = np.linspace(0.2, 0.01, 301)
for step in (100, 200, 300):
    picture.add_snapshot(step, 0.5 + (y - 0.5) * step / 300)
    screen.update(costs[:step + 1])
picture.finish(costs, 300, y)
screen.close()
""")
    shown, updated = displays(messages)
    assert len(shown) == 1 and len(updated) == 3 + 1
    display_id = shown[0]["transient"]["display_id"]
    assert all(content["transient"]["display_id"] == display_id for content in updated)
    frames = [shown[0]["data"]["image/png"]] + [content["data"]["image/png"] for content in updated]
    assert len(set(frames)) == len(frames), "every frame shows something new"


@pytest.mark.slow
def test_plot_training_draws_live_in_a_kernel_and_shows_the_figure_once(kernel):
    """In a kernel with the inline backend, 10,000 steps update the figure while they run, and
    the figure is not shown a second time when the cell ends; marked as graded, nothing is drawn live."""
    setup = """
import sys
sys.path.insert(0, "tests")
import numpy as np
from notebook_code import run_cells
from readonly import backprop
ns = run_cells("source/backprop/1-Backpropagation.ipynb",
               ["imports", "network", "J_W3", "J_b3", "J_W2", "J_b2", "J_W1", "J_b1"])
x, y = backprop.training_data()
ns["reset_network"](random=np.random.default_rng(1))
"""
    run_in(kernel, setup)
    messages = run_in(kernel, """
training = backprop.plot_training(x, y, iterations=10000, aggression=7, noise=1, network=ns,
                                  random=np.random.default_rng(1))
assert training.live
print("frames:", training.frames)
""")
    shown, updated = displays(messages)
    assert len(shown) == 1, "the figure is shown once, by its display handle"
    assert len(updated) >= 2, "at least one frame while training, and the finished figure"
    printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert f"frames: {len(updated)}" in printed  # the first showing and the frames before the finished figure
    graded = run_in(kernel, """
import os
os.environ["NBGRADER_EXECUTION"] = "autograde"
training = backprop.plot_training(x, y, iterations=50, network=ns, random=np.random.default_rng(1))
assert not training.live
del os.environ["NBGRADER_EXECUTION"]
""")
    shown, updated = displays(graded)
    assert len(shown) == 1 and not updated and not shown[0].get("transient")


# --- 3. The data first -----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_learner_notebook_shows_the_data_as_a_figure_before_the_first_graded_cell():
    notebook = nbformat.read(LEARNER, as_version=4)
    first_test = next(i for i, c in enumerate(notebook.cells) if grade_id(c).startswith("test_"))
    notebook.cells = notebook.cells[:first_test]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    drawn = [c for c in notebook.cells if c.cell_type == "code"
             and any("image/png" in o.get("data", {}) for o in c.outputs)]
    data_cells = [c for c in drawn if "draw_curves(y" in c.source]
    assert data_cells, "no figure of the training data y before the first test cell"


def test_the_data_figure_shows_the_target_and_the_untrained_output(solution):
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(1))
    output = solution["network_function"](x)[-1]
    figure = backprop.draw_curves(y, output)
    target, drawn = figure.axes
    np.testing.assert_allclose(target.lines[0].get_xydata()[:-1].T, y)
    np.testing.assert_allclose(drawn.lines[0].get_xydata()[:-1].T, output)
    for ax in figure.axes:
        assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)


# --- 4. Notation ----------------------------------------------------------------------------------

def test_plot_axes_name_outputs_by_unit_and_example(solution):
    x, y = backprop.training_data(10)
    solution["reset_network"](random=np.random.default_rng(0))
    training = backprop.plot_training(x, y, iterations=3, network=solution, random=np.random.default_rng(0))
    figures = [training.figure, backprop.draw_curves(y, training.output)]
    for ax in (ax for figure in figures for ax in figure.axes[:1]):
        assert "a^{(3)}_{1,k}" in ax.get_xlabel() and "a^{(3)}_{2,k}" in ax.get_ylabel()
        assert not re.search(r"a\^\{\(3\)\}_[0-9k]\$", ax.get_xlabel() + ax.get_ylabel())


def test_the_notation_is_stated_once_and_the_math_says_what_the_code_does():
    text = markdown(nbformat.read(SOURCE, as_version=4))
    assert text.count("### Notation") == 1
    assert "a^{(3)}_{i,k}" in text and r"\sum_{i=1}^{2}" in text
    assert re.search(r"that parameter's\s+shape", text)
    assert "row vector" in text
    assert r"\mathrm{diag}\left(\sigma'\left(\mathbf z^{(3)}_{:,k}\right)\right) \mathbf W^{(3)}" in text
    assert r"\delta^{(3)}_{i,k}\, a^{(2)}_{j,k}" in text  # the index form that explains `@ a2.T`
    assert r"\in \mathbb R^{2 \times N}" not in text.split("### Layer 3")[1].split("### Your turn")[0]


def test_the_diagram_and_text_say_the_input_does_not_apply_sigma():
    text = markdown(nbformat.read(SOURCE, as_version=4))
    assert "every unit" not in text.lower().split("## the network")[1].split("###")[0]
    title = backprop.draw_network().axes[0].get_title()
    assert "input" in title and "every other unit" in title


# --- 5. Rise over run -----------------------------------------------------------------------------

@pytest.mark.parametrize("function, entry", [("J_b3", (1, 0)), ("J_W3", (0, 4)), ("J_W1", (2, 0))])
def test_rise_over_run_agrees_with_a_right_jacobian(solution, function, entry, capsys):
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(1))
    before = solution[function[2:]].copy()
    result = backprop.rise_over_run(solution, function, x, y, entry=entry)
    assert result.agree and result.entry == pytest.approx(result.slope, rel=1e-3)
    np.testing.assert_array_equal(solution[function[2:]], before)
    assert "They agree to within 0.1%" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    lambda reference, sigma: lambda x, y: reference(x, y) * x.size,  # no division by N
    lambda reference, sigma: lambda x, y: -reference(x, y),  # a sign
])
def test_rise_over_run_disagrees_with_a_wrong_jacobian(solution, wrong, capsys):
    x, y = backprop.training_data()
    solution["reset_network"](random=np.random.default_rng(1))
    with installed(solution, {"J_b3": wrong(solution["J_b3"], solution["sigma"])}):
        result = backprop.rise_over_run(solution, "J_b3", x, y, entry=(1, 0))
    assert not result.agree
    assert "They differ by more than 0.1%" in capsys.readouterr().out


def test_rise_over_run_says_to_write_the_stub_first(solution, capsys):
    def stub(x, y):
        raise NotImplementedError()

    x, y = backprop.training_data()
    with installed(solution, {"J_b3": stub}):
        result = backprop.rise_over_run(solution, "J_b3", x, y)
    assert result.entry is None and not result.agree
    assert "write J_b3 first" in capsys.readouterr().out


def test_rise_over_run_cell_is_short_and_states_its_tolerance():
    notebook = nbformat.read(SOURCE, as_version=4)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "rise_over_run(" in c.source]
    index = notebook.cells.index(cell)
    assert "J_b3" in cell.source and len(cell.source.splitlines()) <= 3
    assert not cell.metadata.get("nbgrader"), "ungraded"
    assert "rise over run" in notebook.cells[index - 1].source and "0.1%" in notebook.cells[index - 1].source
    assert any(grade_id(c) == "test_J_b3" for c in notebook.cells[:index])


def test_rise_over_run_is_skipped_while_graded(solution, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    x, y = backprop.training_data()
    assert backprop.rise_over_run(solution, "J_b3", x, y) is None
    assert "skipped" in capsys.readouterr().out


# --- 6. One named seed ----------------------------------------------------------------------------

def test_the_training_cell_reads_one_named_seed():
    cell = training_cell(nbformat.read(SOURCE, as_version=4))
    assert re.search(r"^seed = \d+\s+#", cell.source, re.M)
    assert cell.source.count("default_rng(seed)") == 2
    assert not re.search(r"default_rng\(\d", cell.source)
    assert "`seed`" in markdown(nbformat.read(SOURCE, as_version=4)).split("## Training the network")[1]
