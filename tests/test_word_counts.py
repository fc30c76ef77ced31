"""The notebooks' text stays short, and each states its notation once (issue 19, items 5 and 6); no kernel.

Words are counted as the project counted them for issue 19: the source of every markdown cell of a master
notebook, split on whitespace (`len(text.split())`), summed over the cells. A formula's pieces and a table's
pipes count as words. The issue counted 2,192 words in backprop and 1,551 in heights; before the cut the same
count gave 2,375 and 1,693. The budgets are the issue's counts less a quarter, and no cell may grow back into
one of the long cells the issue named (367, 335 and 266 words).

Each notebook has one notation table (symbol, meaning, shape) whose cell names, once, what the other notebook
means by the same letters: sigma (the logistic function in backprop, the standard deviation in heights), i (a
layer's units, the bars) and J (in backprop's code J holds delta, 2 x N, on the way to a Jacobian).
"""
import json
import re

import pytest
from conftest import REPO

NOTEBOOKS = {
    "backprop": REPO / "source" / "backprop" / "1-Backpropagation.ipynb",
    "heights": REPO / "source" / "heights" / "2-FittingDistribution.ipynb",
}
#: The issue's counts less a quarter: 2,192 * 0.75 and 1,551 * 0.75, rounded down.
BUDGETS = {"backprop": 1644, "heights": 1163}
#: No markdown cell as long as the issue's long cells.
LONGEST_CELL = 200
#: What a notebook's notation cell must say of the other notebook's letters, and the phrase for the other
#: notebook's meaning of sigma, which appears in no other cell.
CLASHES = {
    "backprop": {"other": "heights", "sigma": "standard deviation", "i": "bar", "J": r"\delta"},
    "heights": {"other": "backprop", "sigma": "logistic", "i": "unit", "J": r"\delta"},
}
TABLE_HEADER = re.compile(r"^\|\s*symbol\b[^|\n]*\|\s*meaning\s*\|\s*shape\s*\|\s*$", re.M)


def markdown_cells(name):
    cells = json.loads(NOTEBOOKS[name].read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def words(text):
    return len(text.split())


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_markdown_keeps_within_its_budget(name):
    total = sum(words(text) for text in markdown_cells(name))
    assert total <= BUDGETS[name], f"{name}: {total} words of markdown, budget {BUDGETS[name]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_markdown_cell_is_a_wall_of_text(name):
    long = [(text.splitlines()[0][:60], words(text)) for text in markdown_cells(name) if words(text) > LONGEST_CELL]
    assert long == [], f"{name}: cells over {LONGEST_CELL} words"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_notation_table_names_the_clashes_with_the_other_notebook(name):
    cells = markdown_cells(name)
    tables = [text for text in cells if TABLE_HEADER.search(text)]
    assert len(tables) == 1, f"{name}: {len(tables)} notation tables (| symbol | meaning | shape |)"
    (table,) = tables
    clash = CLASHES[name]
    assert "Clashes with the " + clash["other"] in table
    said = table.split("Clashes with the")[1]
    assert "\\sigma" in said and clash["sigma"] in said
    assert "$i$" in said and clash["i"] in said
    assert "`J`" in said and clash["J"] in said
    # Once: the other notebook's meaning of sigma is in the notation cell alone.
    assert [text for text in cells if clash["sigma"] in text] == [table]
