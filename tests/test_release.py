"""The release is generated from source/, holds no answers, and the learner copies equal it."""
import shutil
import subprocess

import nbformat
import pytest
from conftest import REPO

from coursetools.check import check
from coursetools.course import assignments, graded_functions, release
from coursetools.sample_class import full_solution

ASSIGNMENTS = assignments(REPO)
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def tracked_notebooks():
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in listed.stdout.split()]


def files_under(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def split_regions(source, begin, end):
    """(the stripped non-blank lines between begin and end markers, the source without them)."""
    inside, within, kept = False, [], []
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            if line.strip():
                within.append(line.strip())
        else:
            kept.append(line)
    return within, "\n".join(kept)


def by_grade_id(notebook):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def test_there_is_a_notebook_to_check():
    assert len(tracked_notebooks()) >= 3 * len(ASSIGNMENTS) >= 3


@pytest.mark.parametrize("path", tracked_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_committed_notebook_has_no_outputs_or_execution_counts(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow  # runs nbgrader generate_assignment
def test_regenerating_the_release_reproduces_the_committed_one(course):
    release(course, database=False)
    for assignment in ASSIGNMENTS:
        regenerated = files_under(course / "release" / assignment.name)
        committed = files_under(REPO / "release" / assignment.name)
        assert regenerated.keys() == committed.keys()
        for name in committed:
            assert regenerated[name] == committed[name], f"release/{assignment.name}/{name} is stale: run make release"
        assert (course / assignment.notebook).read_bytes() == assignment.learner_copy(REPO).read_bytes()


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_learner_copy_and_release_helpers_equal_their_sources(assignment):
    assert assignment.learner_copy(REPO).read_bytes() == assignment.release(REPO).read_bytes()
    helpers = sorted((REPO / "release" / assignment.name / "readonly").glob("*.py"))
    assert helpers, "the release ships no helper modules"
    for helper in helpers:
        assert helper.read_bytes() == (REPO / "readonly" / helper.name).read_bytes()


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    source = nbformat.read(assignment.source(REPO), as_version=4)
    released = nbformat.read(assignment.release(REPO), as_version=4)
    text = "\n".join(cell.source for cell in released.cells)
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in text
    released_cells = by_grade_id(released)
    hidden_lines = set()
    solutions = 0
    for grade_id, cell in by_grade_id(source).items():
        for line in split_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)[0]:
            solutions += 1
            assert line not in released_cells[grade_id].source, f"{grade_id} gives away {line!r}"
        for line in split_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)[0]:
            hidden_lines.add(line)
            assert line not in released_cells[grade_id].source, f"{grade_id} shows the hidden test {line!r}"
    # Lines found only in hidden tests (such as their cases) appear nowhere in the release.
    visible_source = "\n".join(split_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)[1] for cell in source.cells)
    secret = {line for line in hidden_lines if line not in visible_source}
    assert solutions > 0 and secret
    for line in secret:
        assert line not in text, f"the release shows the hidden test {line!r}"


@pytest.mark.slow  # runs the notebooks
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_release_folder_runs_on_its_own_once_solved(assignment, tmp_path):
    folder = tmp_path / assignment.name
    shutil.copytree(REPO / "release" / assignment.name, folder)
    nbformat.write(full_solution(REPO, assignment), folder / assignment.notebook)
    assert check(folder / assignment.notebook) == 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_each_function_has_a_visible_and_a_hidden_test_cell_with_a_docstring(assignment):
    notebook = nbformat.read(assignment.source(REPO), as_version=4)
    functions = graded_functions(notebook)
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    assert sorted(tests) == sorted(f"test_{f}{suffix}" for f in functions for suffix in ("", "_hidden"))
    for grade_id, cell in tests.items():
        first = cell.source.splitlines()[0]
        assert first.startswith('"""') and first.endswith('"""') and len(first) > 10, grade_id
        assert cell.metadata["nbgrader"]["points"] == (2 if grade_id.endswith("_hidden") else 1)


@pytest.mark.slow  # runs nbgrader generate_assignment
def test_a_failed_generate_assignment_leaves_the_release_as_it_was(tmp_path):
    """nbgrader's --force deletes its destination first; release() generates into a scratch folder instead."""
    from conftest import copy_course

    course = copy_course(tmp_path)
    before = files_under(course / "release")
    assert len(before) > 4
    source = next(iter(ASSIGNMENTS)).source(course)
    nb = nbformat.read(source, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    graded[1].metadata["nbgrader"]["grade_id"] = graded[0].metadata["nbgrader"]["grade_id"]  # nbgrader refuses
    nbformat.write(nb, source)
    with pytest.raises(RuntimeError, match="generate_assignment"):
        release(course, database=False)
    assert files_under(course / "release") == before
    assert [p.name for p in course.iterdir() if p.name.startswith(".release-")] == []
