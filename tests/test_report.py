"""The corpus graded by `python -m coursetools grade`: each case's scores, and what `report` says of the class.

The corpus (tests/corpus.py) is graded once a session by coursetools' grader (conftest's
graded_corpus).  Each case says what each function must score, exactly; the notebook's own tests
and the grader's own call must agree on every case (no "tampered" problem).  Every case that loses
points says, in corpus.MISTAKES, the mistake each function must be counted under, and right cases
must have none.  The report's tables must equal counts made directly from the gradebook (here on
SQLite; test_cluster checks them on PostgreSQL).  Stock `nbgrader generate_feedback` works on what
the grader wrote.
"""
import html
import re
import shutil
from collections import Counter

import pytest
from corpus import MISTAKES, corpus
from report_tables import mistakes_of, outcome_counts, read_csv

from coursetools.course import REPO, assignments, function_scores, nbgrader
from coursetools.journal import path_of, read as read_journal
from coursetools.report.cli import report
from coursetools.sample_class import functions_of

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def graded(graded_corpus):
    """The whole corpus graded by `python -m coursetools grade` into SQLite (conftest), and its report written."""
    report(graded_corpus)
    return graded_corpus


CASES = [case for _, case in corpus()]


@pytest.fixture(scope="module")
def scores(graded):
    """{assignment: {student: {function: (score, max)}}} from the gradebook."""
    return {a.name: function_scores(graded, a) for a in assignments(graded)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.assignment}/{c.student}")
def test_case_scores_exactly_as_expected(scores, case):
    functions = functions_of(REPO, case.assignment)
    got = scores[case.assignment][case.student]
    assert list(got) == functions
    expected = case.expected({function: maximum for function, (_, maximum) in got.items()})
    assert all(maximum > 0 for _, maximum in got.values())
    assert {function: score for function, (score, _) in got.items()} == expected


def test_the_notebooks_tests_and_the_grader_s_own_call_agree_on_every_case(graded):
    """No case had points taken back: stock nbgrader, which runs only the tests, gives the same scores."""
    outcomes = read_journal(graded)
    assert len(outcomes) == len(CASES)
    assert {key: o.texts() for key, o in outcomes.items() if any(p.kind == "tampered" for p in o.problems)} == {}


def test_feedback_shows_a_failed_check_s_message_alone_and_withholds_hidden_test_code(graded):
    student = "J_b1-keepdims-dropped"
    nbgrader(graded, "generate_feedback", "backprop", "--student", student, "--force")
    page = (graded / "feedback" / student / "backprop" / "1-Backpropagation.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert text.count("keepdims=True dropped") == 2  # once in the visible test's output, once in the hidden one's
    assert not any(frame in text for frame in ("Where it happened", "most recent call"))
    # A frame reads "File .../readonly/checking.py:273, in run_test"; the notebook's text may name the files.
    assert not re.search(r"(checking|_checks)\.py:\d", text)
    assert "The code of the hidden tests is withheld" in text
    hidden_case = "(6, 7, 37, 41)"  # a case of J_b1's hidden test, in source/ only
    assert hidden_case in (REPO / "source/backprop/1-Backpropagation.ipynb").read_text()
    assert hidden_case not in text


@pytest.fixture(scope="module")
def rows(graded):
    """{(assignment, student): its row of submissions.csv}."""
    return {(a.name, row["student"]): row for a in assignments(graded)
            for row in read_csv(graded / "reports" / a.name / "submissions.csv")}


def test_every_recognised_mistake_is_counted_under_its_identifier(rows):
    assert {key: mistakes_of(row) for key, row in rows.items() if mistakes_of(row)} == MISTAKES


def test_right_cases_have_full_marks_and_no_mistake(rows):
    right = [(case.assignment, case.student) for kind, case in corpus() if kind == "right"]
    assert len(right) >= 10
    for key in right:
        assert mistakes_of(rows[key]) == {} and rows[key]["points"] == rows[key]["max_points"], key


@pytest.mark.parametrize("name", ["backprop", "heights"])
def test_functions_csv_equals_counts_from_the_gradebook(graded, name):
    assignment = next(a for a in assignments(graded) if a.name == name)
    assert read_csv(graded / "reports" / name / "functions.csv") == outcome_counts(function_scores(graded, assignment))


@pytest.mark.parametrize("name", ["backprop", "heights"])
def test_mistakes_csv_counts_the_submissions_and_the_corpus(graded, name):
    counted = Counter((function, mistake) for row in read_csv(graded / "reports" / name / "submissions.csv")
                      for function, mistake in mistakes_of(row).items())
    table = {(r["function"], r["mistake"]): int(r["submissions"])
             for r in read_csv(graded / "reports" / name / "mistakes.csv")}
    from_corpus = Counter((function, mistake) for (assignment, _), found in MISTAKES.items() if assignment == name
                          for function, mistake in found.items())
    assert table == counted == from_corpus and sum(table.values()) > 20


def test_the_page_is_self_contained_and_shows_the_tables(graded):
    page = (graded / "reports" / "backprop" / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)
    submissions = len(read_csv(graded / "reports" / "backprop" / "submissions.csv"))
    assert f"<tr><td>submissions</td><td>{submissions}</td></tr>" in page
    for row in read_csv(graded / "reports" / "backprop" / "mistakes.csv"):
        if int(row["submissions"]) >= 2:
            assert f"<code>{row['mistake']}</code>" in page and f"<td class=n>{row['submissions']}</td>" in page
    assert "J_b3/sigma-for-d_sigma" in page
    assert "the activation sigma itself at layer 3 where its derivative belongs" in page
    assert "kernel-died" in page and "trick-exits-the-kernel" in page


def test_without_the_journal_lost_points_are_unrecorded_and_counts_unchanged(graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded, course, symlinks=True, ignore=shutil.ignore_patterns("autograded", "reports"))
    assert not path_of(course).exists()
    report(course, ["heights"])
    ours = read_csv(graded / "reports" / "heights" / "functions.csv")
    assert read_csv(course / "reports" / "heights" / "functions.csv") == ours
    mistakes = {r["mistake"] for r in read_csv(course / "reports" / "heights" / "mistakes.csv")}
    assert mistakes == {"unrecorded"}


@pytest.mark.parametrize("option", [["--assignment", "nonesuch"], ["--db", "sqlite:////nonexistent/folder/x.db"]])
def test_bad_options_are_clear_errors(graded, option):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "coursetools", "report", "--root", str(graded), *option],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("make report: "), done.stderr
    assert "Traceback" not in done.stderr
