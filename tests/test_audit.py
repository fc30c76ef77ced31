"""The mutation audit (`make audit`, coursetools.audit): its mutants, its two verdicts, its rule, and that it can fail.

The whole audit (every mutant of both assignments) is `make audit`; here a seeded sample of each
assignment is audited and must meet the rule, a course whose hidden tests are weakened to the
notebook's own sizes must not, and a few mutants are graded by `make grade` as well.
"""
import csv
import html
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from conftest import REPO, copy_course

from coursetools.audit import mutate, run, subject as subjects
from coursetools.audit.report import write
from coursetools.sample_class import CLASS

ASSIGNMENTS = ("backprop", "heights")


@pytest.fixture(scope="module")
def generated():
    """{assignment: (subject, mutants)} of the course, seed 0, with the corpus."""
    found = {}
    for name in ASSIGNMENTS:
        subject = subjects.load(REPO, name)
        found[name] = subject, mutate.mutants(subject, 0, corpus=subjects.corpus(REPO, subject))
    return found


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_mutants_are_many_distinct_and_the_same_for_a_seed(generated, name):
    subject, mutants = generated[name]
    assert len(mutants) >= 200
    cells = [m.cell for m in mutants]
    assert len(set(cells)) == len(cells)
    solutions = {mutate.normalised(f.cell) for f in subject.functions.values()}
    assert not solutions & set(cells)
    assert all(mutate.normalised(cell) == cell for cell in cells)  # each parses, and is normalised
    again = mutate.mutants(subject, 0, corpus=subjects.corpus(REPO, subject))
    assert [m.key for m in again] == [m.key for m in mutants]
    other = mutate.mutants(subject, 1, corpus=subjects.corpus(REPO, subject))
    assert {m.key for m in other if m.operator == "higher-order"} != {m.key for m in mutants
                                                                       if m.operator == "higher-order"}


def test_every_operator_makes_mutants(generated):
    made = {m.operator for _, mutants in generated.values() for m in mutants}
    assert set(mutate.OPERATORS) <= made


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_first_order_mutants_change_only_the_solution_region(generated, name):
    subject, mutants = generated[name]
    for mutant in mutants:
        if mutant.operator == "corpus":
            continue
        original = mutate.normalised(subject.functions[mutant.function].cell).splitlines()
        changed = mutant.cell.splitlines()
        first, last = subject.functions[mutant.function].region
        outside = len(subject.functions[mutant.function].cell.splitlines()) - last
        # the lines before the region and after it (the signature, the given code) are the solution's
        assert changed[:1] == original[:1]
        if outside:
            assert changed[-outside:] == original[-outside:], mutant.diff


def test_the_rule():
    maxima = {"f": 3.0, "g": 3.0}
    mutant = mutate.Mutant("f", "sign", 1, "negated", "def f(): pass", "")

    def verdict(truth_, f, g):
        return run.rule(run.Judged(mutant, truth_, points={1: {"f": f, "g": 3.0}, 2: {"f": f, "g": g}}), maxima)

    assert verdict("wrong", 0.0, 3.0) == "killed"
    assert verdict("wrong", 1.0, 3.0) == "partly-killed"
    assert verdict("wrong", 3.0, 3.0) == "survivor"
    assert verdict("wrong", 0.0, 2.0) == "collateral"
    assert verdict("equivalent", 3.0, 3.0) == "kept"
    assert verdict("equivalent", 1.0, 3.0) == "false-rejection"
    assert verdict("equivalent", 3.0, 0.0) == "false-rejection"
    assert run.rule(run.Judged(mutant, "unknown"), maxima) == "timeout"


def _truths(name, cells):
    """The truth of each (function, cell) of cells: "equivalent" or "wrong: why", from a subprocess set up as an
    audit worker is (the notebook's folder, its imports), so that this one keeps its own."""
    code = ("import json, sys; from coursetools.audit import subject, notebook, truth\n"
            f"s = subject.load({str(REPO)!r}, {name!r}); notebook.prepare(s)\n"
            f"solution, domains = notebook.namespace(s)[0], truth.load_domains({str(REPO)!r}, s.module)\n"
            "for function, cell in json.load(sys.stdin):\n"
            "    said = truth.verdict(solution, notebook.namespace(s, (function, cell))[0], function, domains, 0)\n"
            "    print(json.dumps('equivalent' if said.equivalent else 'wrong: ' + said.why))")
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(cells), capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()[-len(cells):]]


#: Mutants the truth must find wrong however the checks judge them: mu.T works on a NumPy float but not on
#: the notebook's own start point, mu = 155 (the domain holds Python ints).
WRONG = {"heights": [("dfdmu", "(x - mu)", "(x - mu.T)", "AttributeError")], "backprop": []}


@pytest.mark.slow  # runs each notebook's definitions in a subprocess
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_truth_of_the_sample_class(generated, name):
    """The sample class's right forms are equivalent and its mistakes wrong, by the truth alone (no checks)."""
    subject = generated[name][0]
    edits = [(function in case.broken, function, subject.functions[function].cell.replace(old, new), "")
             for case in CLASS[name] if not case.untouched for function, old, new in case.edits]
    edits += [(True, function, subject.functions[function].cell.replace(old, new), why)
              for function, old, new, why in WRONG[name]]
    said = _truths(name, [(function, cell) for _, function, cell, _ in edits])
    assert len(said) == len(edits) > 3
    for (wrong, function, cell, why), truth_ in zip(edits, said):
        assert truth_.startswith("wrong") == wrong and why in truth_, (cell, truth_)


def test_a_missing_domains_module_stops_the_audit(course):
    (course / "readonly" / "heights_domains.py").unlink()
    from coursetools.errors import GradingError

    with pytest.raises(GradingError, match="domains"):
        run.audit(course, "heights")


def test_the_command_turns_errors_into_exit_1():
    done = subprocess.run([sys.executable, "-m", "coursetools", "audit", "--assignment", "no-such-assignment"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1 and "make audit: no assignment 'no-such-assignment'" in done.stderr


@pytest.fixture(scope="module")
def sampled():
    """{assignment: [Judged]}: a seeded sample of 40 mutants of each assignment, audited."""
    return {name: run.audit(REPO, name, seed=0, jobs=1, sample=40)[1] for name in ASSIGNMENTS}


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_sample_of_the_audit_meets_the_rule(sampled, name):
    """A seeded sample of each assignment's mutants: each wrong one loses its own points only, each equivalent
    one keeps all (`make audit` judges every mutant)."""
    results = sampled[name]
    assert len(results) == 40
    assert {j.truth for j in results} <= {"wrong", "equivalent"}
    broken = [(j.verdict, j.mutant.diff) for j in results if j.verdict in run.BREAKS]
    assert broken == []


def _weaken(course, name):
    """Weaken a course's hidden cases to the notebook's own sizes: each hidden test cell runs the visible test's
    cases, and the grader's own call draws only those too."""
    path = course / "source" / name / subjects.load(course, name).notebook
    source = nbformat.read(path, as_version=4)
    visible = {}
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        found = re.search(r'run_test\(globals\(\), "[\w.]+", "(\w+)", (\[.*?\])', cell.source)
        if found and grade_id == f"test_{found.group(1)}":
            visible[found.group(1)] = found.group(2)
        elif found and grade_id.endswith("_hidden"):
            cell.source = cell.source.replace(found.group(2), visible[found.group(1)])
    nbformat.write(source, path)
    checks = course / "readonly" / f"{name}_checks.py"
    cases = ", ".join(f"{function!r}: [list(case) for case in {cases}]" for function, cases in visible.items())
    checks.write_text(checks.read_text() + f"\n\ndef grader_cases(seed):\n    return {{{cases}}}\n")


@pytest.mark.slow
def test_weakened_hidden_tests_make_the_audit_report_survivors(course, tmp_path):
    """Once a course's hidden cases are only the notebook's own sizes, the corpus's real mistakes that the course
    must penalise (tests/corpus.py: they lose points of their function) survive: the audit can fail, and its
    report lists the survivors with their diffs.  (`make audit` judges the same mutants in the real course.)"""
    from corpus import corpus

    _weaken(course, "heights")
    subject, weak = run.audit(course, "heights", jobs=1, corpus_path=REPO / "tests" / "corpus.py",
                              operators=("corpus",))
    survivors = [j for j in weak if j.verdict == "survivor"]
    assert survivors and all(j.truth == "wrong" for j in survivors)
    cases = {case.student: case for _, case in corpus()}
    maxima = subject.maxima()
    for judged in survivors:
        expected = cases[judged.mutant.change].expected(maxima)
        assert expected[judged.mutant.function] < maxima[judged.mutant.function]
    folder = write(tmp_path, subject, weak, {"seed": 0})
    rows = list(csv.DictReader(open(folder / "mutants.csv")))
    assert sum(row["verdict"] == "survivor" for row in rows) == len(survivors)
    page = (folder / "index.html").read_text()
    assert all(html.escape(j.mutant.diff) in page for j in survivors)


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_fast_path_grades_the_corpus_as_make_grade_did(graded_corpus):
    """Every corpus case that is a mutant (one function's cell changed) gets, by the audit's fast path, the points
    `make grade` gave it in the shared graded corpus, cell by cell, under the seed the grader journaled.
    (`make audit AGREE=20` grades a random sample of 20 generated mutants of each assignment the same way.)"""
    from coursetools import journal
    from coursetools.audit.agree import gradebook_cells

    outcomes = journal.read(graded_corpus)
    compared = 0
    for name in ASSIGNMENTS:
        subject = subjects.load(REPO, name)
        mutants = [m for m in mutate.mutants(subject, 0, corpus=subjects.corpus(REPO, subject))
                   if m.operator == "corpus" and (name, m.change) in outcomes]
        graded = gradebook_cells(graded_corpus, name)
        fast = run.fast_cells(REPO, name, [(m, outcomes[(name, m.change)].seed) for m in mutants], jobs=1)
        for mutant, cells in zip(mutants, fast):
            assert cells == graded[mutant.change], mutant.change
        compared += len(mutants)
    assert compared >= 20
