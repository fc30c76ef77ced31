"""TeachingFeedback withholds the hidden tests' code wherever a notebook printed it (no kernel)."""
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from coursetools.feedback import WITHHELD_OUTPUT, TeachingFeedback

HIDDEN = 'run_test(globals(), "readonly.backprop_checks", "J_b3", [(6, 7, 37, 11), (3, 4, 5, 12)])'


def notebook(printed):
    hidden = new_code_cell("### BEGIN HIDDEN TESTS\n" + HIDDEN + "\n### END HIDDEN TESTS",
                           metadata={"nbgrader": {"grade": True, "grade_id": "test_J_b3_hidden", "points": 2}})
    later = new_code_cell("print(_seen)", outputs=[new_output("stream", name="stdout", text=printed),
                                                   new_output("stream", name="stdout", text="kept\n")])
    return new_notebook(cells=[hidden, later])


def test_an_output_holding_a_hidden_line_is_withheld_and_the_rest_kept():
    nb, _ = TeachingFeedback(withhold_hidden_tests=True).preprocess(notebook(f"seen: {HIDDEN}\n"), {})
    assert [o.text for o in nb.cells[1].outputs] == [WITHHELD_OUTPUT, "kept\n"]
    assert "(6, 7, 37, 11)" not in str(nb)


def test_hidden_lines_in_an_error_or_a_display_are_withheld_too():
    nb = notebook("x")
    nb.cells[1].outputs = [new_output("error", ename="E", evalue=HIDDEN, traceback=[]),
                           new_output("display_data", data={"text/plain": ["a", HIDDEN]})]
    nb, _ = TeachingFeedback(withhold_hidden_tests=True).preprocess(nb, {})
    assert [o.text for o in nb.cells[1].outputs] == [WITHHELD_OUTPUT] * 2


def test_with_hidden_tests_shown_nothing_is_withheld():
    nb, _ = TeachingFeedback(withhold_hidden_tests=False).preprocess(notebook(f"seen: {HIDDEN}\n"), {})
    assert nb.cells[1].outputs[0].text == f"seen: {HIDDEN}\n"


@pytest.mark.parametrize("between", ["\x1b[0m", "\x1b[31;1m", "\u200b", "\u2060", "\x1b]0;t\x07", "\x00", "\u202d"])
def test_a_hidden_line_split_by_what_a_page_does_not_show_is_withheld(between):
    # A review printed a hidden line with a colour reset between its characters: ansi2html showed it whole.
    nb, _ = TeachingFeedback(withhold_hidden_tests=True).preprocess(notebook(between.join(HIDDEN) + "\n"), {})
    assert [o.text for o in nb.cells[1].outputs] == [WITHHELD_OUTPUT, "kept\n"]
