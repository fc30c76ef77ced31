"""Grade one submission: files in, result out.

`grade_submission` runs nbgrader's own `Autograde` converter, with its stock preprocessors but
the grader's steps for `Execute` (`coursetools.grading.autograde`), in a private course made in a temporary folder from the
assignment's bundle (`coursetools.grading.assignment`) and the submission's files; it returns
the grades, the comments and the autograded notebooks as plain data, and leaves nothing behind.
It keeps no state between calls: whatever it changes of the process (sys.path, which `readonly`
package is imported) it puts back.
"""
import contextlib
import logging
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

from coursetools.grading import answers
from coursetools.grading.diagnoses import diagnose
from coursetools.outcome import Graded, NotebookGrades, Outcome
from coursetools.grading.assignment import PRIVATE_DB, ensure_path, notebook_names, private_gradebook
from coursetools.grading.bytecode import write_bytecode
from coursetools.grading.engines import private_gradebook_path, shared_engine
from coursetools.grading.files import read_folder, remove_tree, write_folder

#: Largest autograded folder a result carries back (the notebooks nbgrader wrote, and the submission's own
#: files: at most the 100 a submission may hold, so a full submission always fits; a notebook that
#: coursetools.grading.screen lets through, 32 MiB at most, is written back by nbformat in < 72 MiB).
MAX_RESULT_FILES, MAX_RESULT_BYTES = 128, 80 * 2 ** 20


def grade_submission(bundle, task, options, work=None):
    """Grade task's files as bundle's assignment; return a Graded (the Outcome, the grades, the autograded files).

    task: {"student", "fingerprint", "files": {relative path: bytes}, "problems": [Problem], "queued": the
    moment the client handed it out (time.time())}.
    options: {"sandbox": the launcher's arguments or None, "kernel_folder": where kernels' sockets go,
    "cache": a folder of the worker's for what it builds once (private gradebooks),
    "cell_timeout", "notebook_timeout", "max_output_bytes", "max_notebook_output_bytes"}.  work: the folder for the private course.
    A failure of the grader itself (not of the notebook) is the outcome's "grader-error" problem, with
    the traceback's last line; the whole traceback goes to the worker's log.
    """
    started = time.monotonic()
    stamps = {"queued": task["queued"]} if "queued" in task else {}
    stamps["started"] = time.time()
    graded = Graded(Outcome(bundle["assignment"], task["student"], task["fingerprint"], seed=_seed(task),
                            problems=list(task.get("problems", ())), stamps=stamps))
    course = Path(tempfile.mkdtemp(prefix="c", dir=work))
    # In work, the private gradebook is at the same path for each submission, so its engine is kept (engines);
    # without work its path is new each time, and an engine kept for it would never be used again.
    database = private_gradebook_path(work) if work else course / PRIVATE_DB
    engine = shared_engine(f"sqlite:///{database}") if work else contextlib.nullcontext()
    saved_path = list(sys.path)
    try:
        with warnings.catch_warnings(), engine:
            # nbgrader's API triggers SQLAlchemy's autoflush note on each new student; the grades are right
            warnings.filterwarnings("ignore", message="Object of type .* not in session")
            _grade(bundle, task, options, course, database, graded)
    except Exception as failed:  # a bug of ours, not the student's: this submission alone scores 0, and says why
        logging.getLogger(__name__).exception("grading %s/%s failed", bundle["assignment"], task["student"])
        graded = Graded(Outcome(bundle["assignment"], task["student"], task["fingerprint"], seed=_seed(task),
                                problems=list(task.get("problems", ())), stamps=stamps))
        graded.outcome.add("grader-error", f"the grader failed on this submission ({type(failed).__name__}: "
                                           f"{failed}): 0 points; please report it")
    finally:
        sys.path[:] = saved_path  # nbgrader_config.py puts its folder on sys.path each time it is loaded
        remove_tree(course)
        with contextlib.suppress(FileNotFoundError):
            database.unlink()
    graded.outcome.seconds = time.monotonic() - started
    return graded


def _seed(task):
    """The seed of the grader's own cases for task: drawn from its fingerprint, so a regrade draws the same."""
    return int(task["fingerprint"][:8], 16)


def _grade(bundle, task, options, course, database, graded):
    from nbgrader.api import Gradebook, MissingEntry

    from coursetools.grading.autograde import autograde
    from coursetools.grading.screen import screen_notebook

    ensure_path()
    outcome = graded.outcome
    assignment, student = bundle["assignment"], task["student"]
    (course / "nbgrader_config.py").write_text(bundle["config"])
    write_folder(bundle["files"], course / "source" / assignment)
    write_bytecode(course / "source" / assignment, bundle.get("bytecode", {}))
    private_gradebook(bundle["gradebook"], database, bundle["course_id"], options.get("cache"))
    submitted = course / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    write_folder(task["files"], submitted)
    expected = notebook_names(bundle["gradebook"])
    present = []
    for name in expected:
        path = submitted / f"{name}.ipynb"
        if not path.is_file():
            others = sorted(p.name for p in submitted.glob("*.ipynb"))
            outcome.add("missing-notebook", f"{name}.ipynb is missing" + (f" (found {', '.join(others)})" if others
                                                                          else ""))
            continue
        refused = screen_notebook(path.read_bytes())
        if refused:  # nbformat and nbgrader never read it: their memory and time grow with what it holds
            outcome.add("broken-notebook", f"{name}.ipynb cannot be graded: {refused}")
            path.unlink()
        else:
            present.append(name)
    found = {}
    if present:
        run, found = autograde(bundle, task, options, course, database, _seed(task))
        for part in found.values():
            outcome.problems += part.get("problems", [])
            for name, seconds in part.get("timings", {}).items():
                outcome.timings[name] = outcome.timings.get(name, 0.0) + seconds
            _merge_stamps(outcome.stamps, part.get("stamps", {}))
        if not run["success"]:
            outcome.add("broken-notebook", _first_error(run.get("log"), run.get("error")))
    output = course / "autograded" / student / assignment
    with Gradebook(f"sqlite:///{database}") as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            submission = None
        if submission is not None and submission.timestamp is not None:
            outcome.timestamp = submission.timestamp.isoformat()
        for notebook in submission.notebooks if submission is not None else ():
            graded.notebooks[notebook.name] = NotebookGrades(
                graded=_graded_cells(output / f"{notebook.name}.ipynb") if notebook.name in present else None,
                grades={g.name: [g.auto_score, g.needs_manual_grade] for g in notebook.grades},
                comments={c.name: c.auto_comment for c in notebook.comments},
                late_penalty=notebook.late_submission_penalty)
    got = {}  # {function: [cases, answers]} of every notebook the grader's own call planned
    for notebook, plan in bundle["checks"].items() if present else ():
        mine = found.get(notebook, {}).get("answers", {})
        with answers.checks_from(course / "source" / assignment, plan["module"]) as checks:
            outcome.mistakes.update(diagnose(mine, checks.judge))
        got.update(mine)
    if got:
        outcome.problems += answers.cross_check(graded.notebooks, got, outcome.mistakes)
    outcome.stamps["judged"] = time.time()
    if output.is_dir():
        # Only what nbgrader wrote comes back: the assignment's notebooks (their outputs made inert by
        # MakeInert) and the submission's own files.
        keep = {f"{name}.ipynb" for name in expected} | set(task["files"])
        graded.files, _ = read_folder(output, MAX_RESULT_FILES, MAX_RESULT_BYTES, keep=keep)


def _merge_stamps(stamps, notebook):
    """Add one notebook's kernel_ready and cells_done to the submission's: the first kernel, the last cell."""
    if "kernel_ready" in notebook:
        stamps["kernel_ready"] = min(stamps.get("kernel_ready", notebook["kernel_ready"]), notebook["kernel_ready"])
    if "cells_done" in notebook:
        stamps["cells_done"] = max(stamps.get("cells_done", notebook["cells_done"]), notebook["cells_done"])


def _graded_cells(path):
    """The grade_ids of the cells of the autograded notebook at path, or None if there is none."""
    import nbformat

    if not path.is_file():
        return None
    with contextlib.suppress(Exception):
        return [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id")]
    return None


def _first_error(log, error):
    """The last `SomeError: message` line of a captured nbgrader log and traceback."""
    lines = [line.strip() for line in f"{log or ''}\n{error or ''}".splitlines()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*", line)
             and "NbGraderException" not in line]
    return (found[-1] if found else "nbgrader could not grade it")[:300]
