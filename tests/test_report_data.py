"""How one submission is counted in the class report (coursetools.report.data.add), without a gradebook."""
from collections import Counter

from coursetools.outcome import Mistake, Outcome, Problem
from coursetools.report.data import UNRECORDED, ClassReport, add


def fresh():
    functions = ["J_b3", "J_b2"]
    return ClassReport("backprop", functions, {"J_b3": 3.0, "J_b2": 3.0}, outcomes={f: Counter() for f in functions})


def test_the_grader_s_finding_comes_first_then_the_submission_s_problem():
    report = fresh()
    record = Outcome("backprop", "ada", "f", seconds=2.0, problems=[Problem("kernel-died", "the kernel died in test_J_b2")],
                     mistakes={"J_b3": Mistake("J_b3/sign", "J_b3 is not right yet.")})
    found = add(report, "ada", {"J_b3": [0.0, 3.0], "J_b2": [1.0, 3.0]}, record)
    assert found == {"J_b3": "J_b3/sign", "J_b2": "kernel-died"}
    assert report.outcomes["J_b3"]["zero"] == 1 and report.outcomes["J_b2"]["partial"] == 1
    assert report.messages[("J_b2", "kernel-died")] == "the kernel died in test_J_b2"
    assert report.problems == Counter({"kernel-died": 1}) and report.totals == Counter({1.0: 1})


def test_a_full_function_has_no_mistake_and_an_unjournaled_loss_is_unrecorded():
    report = fresh()
    assert add(report, "bo", {"J_b3": [3.0, 3.0], "J_b2": [0.0, 3.0]}, None) == {"J_b2": UNRECORDED}
    assert report.journaled == 0 and len(report.seconds) == 0


def test_an_older_journal_line_without_kinds_keeps_its_problems():
    report = fresh()
    record = Outcome.from_json('{"assignment": "backprop", "student": "cy", "fingerprint": "f", "seconds": 1.0, '
                               '"problems": ["cell 3 timed out"]}')  # version 1: no kinds, no mistakes
    assert add(report, "cy", {"J_b3": [0.0, 3.0], "J_b2": [3.0, 3.0]}, record) == {"J_b3": UNRECORDED}
    assert report.troubled == [("cy", 3.0, ["cell 3 timed out"])]


def test_a_loss_the_grader_found_no_cause_for_is_no_diagnosis():
    report = fresh()
    record = Outcome("backprop", "di", "f", seconds=1.0)
    assert add(report, "di", {"J_b3": [1.0, 3.0], "J_b2": [3.0, 3.0]}, record) == {"J_b3": "no-diagnosis"}


def test_each_stage_the_stamps_give_is_counted_and_shown_as_median_and_95th_percentile(tmp_path):
    from coursetools.report.page import write_page

    report = fresh()
    for i in range(20):
        stamps = {"queued": 0.0, "started": 0.1 * i, "kernel_ready": 0.1 * i + 1.0, "cells_done": 0.1 * i + 3.0}
        add(report, f"s{i}", {"J_b3": [3.0, 3.0], "J_b2": [3.0, 3.0]},
            Outcome("backprop", f"s{i}", "f", seconds=3.0, stamps=stamps))
    add(report, "older", {"J_b3": [3.0, 3.0], "J_b2": [3.0, 3.0]}, Outcome("backprop", "older", "f", seconds=3.0))
    report.submissions = 21
    report.totals[6.0] = 21
    assert {stage: len(values) for stage, values in report.stages.items()} == \
        {"waiting": 20, "setting-up": 20, "running-cells": 20}
    write_page(report, tmp_path, "a test")
    page = (tmp_path / "index.html").read_text()
    assert "<tr><td>waiting</td><td class=n>0.90</td><td class=n>1.80</td><td class=n>20</td>" in page
    assert "<tr><td>running-cells</td><td class=n>2.00</td><td class=n>2.00</td>" in page
    assert "<td>judging</td>" not in page  # no outcome reached it
