"""Proof that the audit's fast path grades as `make grade` does: a random sample of mutants graded both ways.

The sample is written as submissions of a scratch copy of the course (the full solution with the
mutant's cell in place of its function's), graded by `python -m coursetools grade` (the sandboxed
grader of `make grade`, nbgrader's autograde in a kernel), and each submission's points compared
cell by cell with the fast path's under the seed the grader journaled for it.
"""
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from coursetools import journal
from coursetools.course import find, nbgrader, settings
from coursetools.errors import GradingError
from coursetools.sample_class import full_solution

#: What a scratch course copies of the course.
COURSE_FILES = ("nbgrader_config.py", "coursetools", "readonly", "source", "release")


#: At most this many of each verdict's mutants are drawn first, so that a sample is not all of the commonest verdict.
PER_VERDICT = 3


def sample(results, size, seed):
    """size Judged of results (all if there are fewer), drawn from seed: up to PER_VERDICT of each verdict but
    the commonest first (a mutant kept, one partly killed, ...), then the rest at random from all the others."""
    draw = random.Random(f"agree:{seed}")
    groups = {}
    for judged in results:
        groups.setdefault(judged.verdict, []).append(judged)
    commonest = max(groups, key=lambda verdict: len(groups[verdict]), default=None)
    chosen = [j for verdict in sorted(groups) if verdict != commonest
              for j in draw.sample(groups[verdict], min(PER_VERDICT, len(groups[verdict])))][:size]
    rest = [j for j in results if not any(j is c for c in chosen)]
    return chosen + draw.sample(rest, min(size - len(chosen), len(rest)))


def _scratch(root, folder, name):
    """A copy of the course in folder, with a gradebook that holds assignment name (generated into a scratch
    folder, as `make release` does, so that the copied release/ stays as it is)."""
    for part in COURSE_FILES:
        path = Path(root) / part
        if path.is_dir():
            shutil.copytree(path, folder / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, folder / part)
    nbgrader(folder, "generate_assignment", name, "--force", f"--CourseDirectory.release_directory={folder / '.gen'}")


def _submit(course, name, student, mutant):
    assignment = find(name, course)
    notebook = full_solution(course, assignment)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.function:
            cell.source = mutant.cell
    folder = course / "submitted" / student / name
    shutil.copytree(assignment.release(course).parent, folder)
    nbformat.write(notebook, folder / assignment.notebook)


def gradebook_cells(course, name):
    """{student: {grade_id: points}} as the gradebook holds them."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(settings(course)[1]) as gradebook:
        for submission in gradebook.assignment_submissions(name):
            found[submission.student_id] = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
    return found


def agree(root, name, chosen, jobs=2, keep=None):
    """Grade chosen (Judged) by `make grade` in a scratch course and by the fast path; return rows.

    Each row: (student, mutant key, seed, {grade_id: (make grade's points, fast path's points)}, agrees).
    keep: a folder to grade in and leave behind (default: a temporary one, removed afterwards).
    """
    from coursetools.audit.run import fast_cells

    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="audit-agree-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _scratch(root, folder, name)
        students = {}
        for index, judged in enumerate(chosen):
            student = f"mutant-{index:03d}"
            students[student] = judged.mutant
            _submit(folder, name, student, judged.mutant)
        done = subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(folder), "--assignment",
                               name, "--jobs", str(jobs)], capture_output=True, text=True, cwd=str(root))
        if done.returncode != 0:
            raise GradingError(f"make grade failed on the sample: {done.stderr[-2000:]}")
        graded = gradebook_cells(folder, name)
        outcomes = journal.read(folder)
        pairs = [(students[s], outcomes[(name, s)].seed) for s in sorted(students)]
        fast = fast_cells(root, name, pairs, jobs)
        rows = []
        for (student, (mutant, seed)), mine in zip(zip(sorted(students), pairs), fast):
            theirs = graded.get(student, {})
            cells = {g: (theirs.get(g), mine.get(g)) for g in sorted(set(theirs) | set(mine))}
            rows.append((student, mutant.key, seed, cells, all(a == b for a, b in cells.values())))
        return rows
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
