"""The typed outcome of one submission, and judging that believes only what the grader saw (no kernel, no sandbox)."""
import json

import pytest

from coursetools import journal
from coursetools.grading.answers import cross_check
from coursetools.grading.diagnoses import FAILED_IN_NOTEBOOK, UNREADABLE, diagnose
from coursetools.outcome import STAGES, Mistake, NotebookGrades, Outcome, Problem, percentiles


def sample():
    return Outcome("backprop", "ada", "ab" * 32, gradebook="sqlite:///x.db", timestamp="2024-01-01T00:00:00",
                   seed=7, score=12.0, max_score=15.0, problems=[Problem("kernel-died", "the kernel died\x1b[31m")],
                   mistakes={"J_b3": Mistake("J_b3/sign", "J_b3 is not right yet.\n  expected: x")},
                   timings={"kernel": 1.25, "cells": 2.5}, seconds=4.0,
                   stamps={"queued": 100.0, "started": 100.5, "kernel_ready": 101.75, "cells_done": 104.25,
                           "judged": 104.5, "written": 104.625})


def test_an_outcome_survives_its_journal_line_and_the_line_is_one_printable_line():
    outcome = sample()
    line = outcome.to_json()
    assert "\n" not in line and "\x1b" not in line and "\\u001b" not in line
    assert Outcome.from_json(line) == outcome
    assert outcome.texts() == ["the kernel died\\x1b[31m"]


@pytest.mark.parametrize("line", ['{"version": 99, "assignment": "a", "student": "s", "fingerprint": "f"}',
                                  '{"assignment": 1, "student": "s", "fingerprint": "f"}',
                                  '{"version": 2, "assignment": "a", "student": "s", "fingerprint": "f", '
                                  '"problems": [["made-up-kind", "x"]]}',
                                  '{"version": 2, "assignment": "a", "student": "s", "fingerprint": "f", '
                                  '"score": NaN}',
                                  '[1, 2]', '{"assignment": "a"', '"text"'])
def test_a_line_that_is_no_outcome_is_refused(line):
    with pytest.raises(ValueError):
        Outcome.from_json(line)


def test_a_problem_of_no_known_kind_cannot_be_made():
    with pytest.raises(ValueError):
        Problem("out-of-mischief", "x")


def test_what_a_function_is_counted_under():
    outcome = sample()
    assert outcome.counted_under("J_b3", 0, 3) == "J_b3/sign"
    assert outcome.counted_under("J_b2", 1, 3) == "kernel-died"
    assert outcome.counted_under("J_b2", 3, 3) is None
    assert Outcome("a", "s", "f", problems=[Problem("tampered", "x")]).counted_under("J_b2", 0, 3) == "no-diagnosis"


def test_the_journal_is_per_gradebook_and_outside_the_students_folders(tmp_path):
    sqlite, postgres = "sqlite:///" + str(tmp_path / "gradebook.db"), "postgresql+psycopg://grader:secret@h/course"
    journal.append(tmp_path, sqlite, [sample()])
    assert journal.read(tmp_path, sqlite)[("backprop", "ada")] == sample()
    assert journal.read(tmp_path, postgres) == {}
    assert "autograded" not in journal.path_of(tmp_path, sqlite).parts
    assert journal.key_of(postgres) == journal.key_of("postgresql+psycopg://grader:other@h/course")
    with open(journal.path_of(tmp_path, sqlite), "a") as torn:
        torn.write('{"version": 2, "assignment": "backprop", "stud')
    assert len(journal.read(tmp_path, sqlite)) == 1
    # The next run's first outcome after a torn line (its run was killed as it wrote) is read all the same.
    later = Outcome("backprop", "bob", "f" * 64)
    journal.append(tmp_path, sqlite, [later])
    assert journal.read(tmp_path, sqlite) == {("backprop", "ada"): sample(), ("backprop", "bob"): later}


def judge(function, case, answer):
    if answer != [1.0, 2.0]:
        from readonly.checking import CheckFailed

        raise CheckFailed(f"{function} is not right yet.", f"{function}/sign")


def test_judging_believes_no_cause_or_message_the_kernel_printed():
    forged = {"message": "<script>alert(1)</script> forged", "mistake": "J_b3/sigma-for-d_sigma"}
    made_up = {"message": "x", "mistake": "J_b3/raises-EvilError"}
    real = {"message": "J_b2 is not implemented", "mistake": "J_b2/not-implemented"}
    raised = {"message": "x", "mistake": "J_W1/raises-IndexError"}
    found = diagnose({"J_b3": [[1], [forged]], "J_b1": [[1], [made_up]], "J_b2": [[1], [real]],
                      "J_W1": [[1], [raised]]}, judge)
    assert found["J_b3"].id == f"J_b3/{FAILED_IN_NOTEBOOK}" and "forged" not in found["J_b3"].message
    assert found["J_b1"].id == f"J_b1/{FAILED_IN_NOTEBOOK}"
    assert found["J_b2"].id == "J_b2/not-implemented" and "grader" in found["J_b2"].message
    assert found["J_W1"].id == "J_W1/raises-IndexError"


@pytest.mark.parametrize("answer", [[10 ** 400, 1.0], [float("nan"), 1.0], ["1", 2.0], [[1.0], 2.0], [True, 2.0],
                                    "a message", None])
def test_answers_that_are_not_numbers_are_wrong_answers(answer):
    assert diagnose({"J_b3": [[1], [answer]]}, judge)["J_b3"].id == f"J_b3/{UNREADABLE}"
    assert diagnose({"J_b3": [[1], None]}, judge) == {}  # no answers at all: cross_check's business


def test_right_answers_pass_and_a_wrong_one_is_the_judge_s_finding():
    assert diagnose({"J_b3": [[1, 2], [[1.0, 2.0], [1, 2]]]}, judge) == {}
    assert diagnose({"J_b3": [[1, 2], [[1.0, 2.0], [2.0, 1.0]]]}, judge)["J_b3"].id == "J_b3/sign"


def test_the_cross_check_takes_back_only_the_points_of_a_function_whose_answers_are_wrong():
    notebooks = {"nb": NotebookGrades(graded=["test_J_b3", "test_J_b3_hidden", "test_J_b2"],
                                      grades={"test_J_b3": [1.0, False], "test_J_b3_hidden": [2.0, False],
                                              "test_J_b2": [3.0, False]})}
    mistakes = {"J_b3": Mistake("J_b3/sign", "J_b3 is not right yet.")}
    problems = cross_check(notebooks, {"J_b3": [[1], [[2.0, 1.0]]], "J_b2": [[1], [[1.0, 2.0]]]}, mistakes)
    assert notebooks["nb"].grades == {"test_J_b3": [0.0, False], "test_J_b3_hidden": [0.0, False],
                                      "test_J_b2": [3.0, False]}
    assert [p.kind for p in problems] == ["tampered"] and "J_b3/sign" in problems[0].text
    silent = {"nb": NotebookGrades(graded=["test_J_b2"], grades={"test_J_b2": [3.0, False]})}
    cross_check(silent, {"J_b2": [[1], None]}, mistakes)
    assert silent["nb"].grades["test_J_b2"][0] == 0.0 and mistakes["J_b2"].id == "J_b2/no-answer"


def test_a_function_one_of_whose_tests_failed_keeps_the_points_of_the_tests_it_passed():
    """Partial credit is the tests' own verdict (a visible test passed by a function wrong for other sizes)."""
    notebooks = {"nb": NotebookGrades(graded=["test_J_W1", "test_J_W1_hidden"],
                                      grades={"test_J_W1": [1.0, False], "test_J_W1_hidden": [0.0, False]})}
    mistakes = {"J_W1": Mistake("J_W1/shapes-do-not-fit", "J_W1 is not right yet.")}
    assert cross_check(notebooks, {"J_W1": [[1], [[2.0]]]}, mistakes) == []
    assert notebooks["nb"].grades["test_J_W1"] == [1.0, False]
    assert mistakes["J_W1"].id == "J_W1/shapes-do-not-fit"  # still what the report counts


def test_the_six_stamps_give_five_stages_and_only_known_stamps_are_read():
    assert sample().stage_seconds() == {"waiting": 0.5, "setting-up": 1.25, "running-cells": 2.5, "judging": 0.25,
                                        "writing": 0.125}
    partial = Outcome("a", "s", "f", stamps={"queued": 1.0, "started": 3.0, "judged": 9.0})  # no kernel ran
    assert partial.stage_seconds() == {"waiting": 2.0}
    assert Outcome.from_json(partial.to_json()) == partial
    line = json.loads(partial.to_json())
    line["stamps"]["launched_rockets"] = 1.0
    with pytest.raises(ValueError):
        Outcome.from_dict(line)
    line["stamps"] = {"queued": "soon"}
    with pytest.raises(ValueError):
        Outcome.from_dict(line)


def test_percentiles_of_each_stage_are_nearest_rank_over_the_outcomes_that_have_it():
    outcomes = [Outcome("a", str(i), "f", stamps={"queued": 0.0, "started": float(i)}) for i in range(1, 101)]
    outcomes.append(Outcome("a", "no-stamps", "f"))  # journaled by an older grader: no stage
    outcomes.append(Outcome("a", "one-run", "f", stamps={"kernel_ready": 10.0, "cells_done": 13.0}))
    found = percentiles(outcomes)
    assert found == {"waiting": {50: 50.0, 95: 95.0}, "running-cells": {50: 3.0, 95: 3.0}}
    assert list(found) == [name for name, _, _ in STAGES if name in found]
    assert percentiles([]) == {}


def test_an_outcome_is_plain_json_for_other_tools():
    data = json.loads(sample().to_json())
    assert data["version"] == 2 and data["problems"] == [["kernel-died", "the kernel died\\x1b[31m"]]


def _notebook(*tests):
    """A source notebook with a solution cell of f and g and the given test cells: (grade_id, source, metadata)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell(f"def {f}(x):\n    return x", metadata={"nbgrader": {
        "grade_id": f, "solution": True, "grade": False, "locked": False, "schema_version": 3}}) for f in ("f", "g")]
    for grade_id, source, metadata in tests:
        cells.append(new_code_cell(source, metadata={**metadata, "nbgrader": {
            "grade_id": grade_id, "grade": True, "points": 1, "solution": False, "locked": True,
            "schema_version": 3}}))
    return nbformat.from_dict(new_notebook(cells=cells))


def test_the_plan_comes_from_cell_metadata_not_from_the_cells_text():
    from coursetools.grading.answers import plan

    declared = {"coursetools": {"checks": "readonly.some_checks"}}
    source = _notebook(("test_f", "assert f(1) == 1", declared),
                       ("test_f_hidden", "assert f(2) == 2", declared),
                       ("test_g", "run_test(globals(), 'readonly.other_checks', 'g', [])", {}))
    assert plan(source) == {"module": "readonly.some_checks", "functions": {"f": "test_f_hidden"}}
    assert plan(_notebook(("test_g", "run_test(globals(), 'readonly.other_checks', 'g', [])", {}))) == {}


def test_two_checks_modules_in_one_notebook_are_an_authoring_error():
    from coursetools.errors import GradingError
    from coursetools.grading.answers import plan

    source = _notebook(("test_f", "", {"coursetools": {"checks": "readonly.a_checks"}}),
                       ("test_g", "", {"coursetools": {"checks": "readonly.b_checks"}}))
    with pytest.raises(GradingError, match="2 checks modules"):
        plan(source)


@pytest.mark.parametrize("assignment, module", [("backprop", "readonly.backprop_checks"),
                                                ("heights", "readonly.heights_checks")])
def test_the_course_s_test_cells_declare_their_checks(assignment, module):
    import nbformat

    from coursetools.course import REPO, graded_functions
    from coursetools.grading.answers import plan

    source = nbformat.read(next((REPO / "source" / assignment).glob("*.ipynb")), as_version=4)
    found = plan(source)
    assert found["module"] == module
    assert sorted(found["functions"]) == sorted(graded_functions(source))
    assert all(grade_id.endswith("_hidden") for grade_id in found["functions"].values())


def test_the_grader_s_cells_go_only_into_the_notebook_whose_source_planned_them():
    """An assignment of several notebooks: each notebook gets the calls of its own functions, and no other."""
    from coursetools.grading.answers import CELL_KEY, AddGraderCells

    declared = {"coursetools": {"checks": "readonly.some_checks"}}
    planned = {**_plan_of(_notebook(("test_f", "", declared))), "cases": {"f": [[1]]}}
    step = AddGraderCells(answer_plans={"first": planned})
    for name, expected in (("first", ["f"]), ("second", [])):
        nb = _notebook(("test_f", "", {}))
        nb, resources = step.preprocess(nb, {"unique_key": name})
        assert [c.metadata[CELL_KEY] for c in nb.cells if CELL_KEY in c.metadata] == expected
        assert list(resources["coursetools"]["added"]) == expected


def _plan_of(source):
    from coursetools.grading.answers import plan

    return plan(source)
