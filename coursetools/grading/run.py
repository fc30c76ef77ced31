"""A run of `make grade`: find the class's submissions, grade what the journal lacks, write each result once.

The client (this process) reads the course and the central gradebook, makes one task per
submission (its files, read from `submitted/`, and a fingerprint of them and of the source),
hands the tasks to an executor, and is the single writer of what comes back: the autograded
notebooks, the gradebook, then the journal.
"""
import hashlib
import sys
from pathlib import Path

from coursetools import sandbox
from coursetools.course import REPO, assignments
from coursetools.grading import journal
from coursetools.grading.assignment import bundle, ensure_path
from coursetools.grading.diagnoses import problem
from coursetools.grading.errors import GradingError
from coursetools.grading.execute import NOTEBOOK_TIMEOUT
from coursetools.grading.files import TooLarge, digest_folder, read_folder
from coursetools.grading.journal import safe
from coursetools.grading.progress import Progress
from coursetools.grading.writer import Writer, check_student_ids, open_gradebook, shown_url

#: What one submission folder may hold: more is not graded (0 points, and why).
MAX_SUBMISSION_FILES, MAX_SUBMISSION_BYTES = 100, 32 * 2 ** 20


class Interrupted(GradingError):
    """The run was stopped (Ctrl-C); what was graded is kept, and a new run finishes the rest."""


def course_settings(root, db_url=None):
    """(course_id, db_url) of the course: nbgrader's CourseDirectory settings in nbgrader_config.py; db_url wins."""
    from traitlets.config.loader import PyFileConfigLoader

    saved = list(sys.path)
    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config().CourseDirectory
    finally:
        sys.path[:] = saved
    course_id = config.get("course_id", "default_course")
    return course_id, db_url or config.get("db_url") or f"sqlite:///{Path(root) / 'gradebook.db'}"


def grade(root=REPO, names=None, jobs=None, sandboxed=True, force=False, students=None, cell_timeout=None,
          notebook_timeout=NOTEBOOK_TIMEOUT, limits=None, stream=None, db_url=None, scheduler=None, security=None):
    """Grade every collected submission of the named assignments (all by default); return the report's lines.

    db_url: the gradebook (default: nbgrader's CourseDirectory.db_url, else gradebook.db);
    scheduler: a Dask scheduler's address (default: a cluster of jobs processes on this machine);
    security: a distributed.security.Security for a TLS scheduler.
    """
    from coursetools.grading.executors import DaskExecutor, remove_stale_folders

    root, stream = Path(root).resolve(), stream or sys.stderr
    ensure_path()
    chosen = [a for a in assignments(root) if names is None or a.name in names]
    if names is not None and len(chosen) != len(set(names)):
        raise GradingError(f"no such assignment: {sorted(set(names) - {a.name for a in chosen})}")
    course_id, db_url = course_settings(root, db_url)
    folders = {a.name: sorted(p for p in (root / "submitted").glob(f"*/{a.name}") if p.is_dir()
                              and (students is None or p.parent.name in students)) for a in chosen}
    check_student_ids({p.parent.name for found in folders.values() for p in found})
    remove_stale_folders()
    sandbox.remove_orphaned_caps()
    gradebook = open_gradebook(db_url, course_id)
    executor = None
    try:
        bundles = {name: bundle(root, name, gradebook, course_id) for name, found in folders.items() if found}
        done = {} if force else journal.read(root)
        pending = []
        for name in bundles:
            for folder in folders[name]:
                fingerprint = hashlib.sha256((bundles[name]["key"] + digest_folder(folder)).encode()).hexdigest()
                if done.get((name, folder.parent.name), {}).get("fingerprint") != fingerprint:
                    pending.append((name, folder, fingerprint))
        skipped = sum(1 for key in done if key[0] in {a.name for a in chosen})
        if pending:
            executor = DaskExecutor(scheduler, jobs, security, sandboxed, {**sandbox.LIMITS, **(limits or {})})
            executor.check()
        where = f"on {scheduler}" if scheduler else "here"
        workers = executor.cores() if executor else 0
        print(f"grading {len(pending)} submissions with {workers} workers {where} into {shown_url(db_url)}"
              f"{'' if sandboxed else ' UNSANDBOXED'}" + (f" ({skipped} already graded)" if skipped else ""),
              file=stream, flush=True)
        if sandboxed and pending and not scheduler and sandbox.memory_cgroup() is None:
            print("no memory cgroup can be made here (not root, or no memory controller): memory is limited per"
                  " process only, not per sandbox", file=stream, flush=True)
        options = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout}
        failed = _write_all(root, gradebook, executor, bundles, pending, options, stream) if pending else []
    finally:
        gradebook.close()
        if executor is not None:
            executor.close()
    if failed:
        print(failed[0]["grader_error"], file=stream)
        raise GradingError(f"{len(failed)} submissions were not graded because of an error of the grader "
                           "(the first traceback is above); nothing was recorded for them")
    return report(root, [a.name for a in chosen])


def _tasks(pending):
    """(assignment, task) for each pending submission, its files read only when it is handed out."""
    for name, folder, fingerprint in pending:
        task = {"student": folder.parent.name, "fingerprint": fingerprint, "files": {}, "problems": []}
        try:
            task["files"], left_out = read_folder(folder, MAX_SUBMISSION_FILES, MAX_SUBMISSION_BYTES)
            if left_out:
                task["problems"].append(problem("left-out-files", "left out what is not a regular file: "
                                                + safe(", ".join(left_out))))
        except TooLarge as too_large:
            task["problems"].append(problem("too-large", f"the submission folder holds {too_large}: not graded, "
                                                         "0 points"))
        yield name, task


def _write_all(root, gradebook, executor, bundles, pending, options, stream):
    """Grade pending on executor and write each result; return the results the grader failed on."""
    progress, failed, writer = Progress(len(pending), stream), [], Writer(gradebook, root)
    try:
        for results in executor.map(bundles, _tasks(pending), options):
            for result in results:
                if result.get("grader_error"):
                    failed.append(result)
                    progress.update(f"{result['assignment']}/{safe(result['student'], 80)}: NOT GRADED, grader "
                                    f"error: {safe(result['grader_error'].strip().splitlines()[-1])}")
            results = [result for result in results if not result.get("grader_error")]
            written = writer.write(results)
            journal.append(root, [record(result, *summary) for result, summary in zip(results, written)])
            for result, (score, maximum, problems) in zip(results, written):
                progress.update(f"{result['assignment']}/{safe(result['student'], 80)}: {score:g}/{maximum:g} "
                                f"in {result['seconds']:.1f} s"
                                + (f"; {'; '.join(p['text'] for p in problems)}" if problems else ""))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {progress.done} of {len(pending)}; run again to grade the rest") \
            from None
    finally:
        writer.close()
    return failed


def record(result, score, maximum, problems):
    """The journal's line for a written result: problems as texts, with their kinds beside them in faults."""
    return {"assignment": result["assignment"], "student": result["student"], "fingerprint": result["fingerprint"],
            "score": score, "max_score": maximum, "problems": [p["text"] for p in problems],
            "faults": [p["kind"] for p in problems], "mistakes": result.get("mistakes", {}),
            "seconds": round(result["seconds"], 2), **{f"{k}_seconds": round(v, 2) for k, v in result["timings"].items()}}


def report(root, names):
    """Lines of the report: every graded submission with a problem, and why."""
    records = [r for key, r in sorted(journal.read(root).items()) if key[0] in names]
    troubled = [r for r in records if r["problems"]]
    lines = [f"report: {len(records)} submissions graded, {len(troubled)} with problems"]
    for record in troubled:
        lines.append(f"  {record['assignment']}/{safe(record['student'], 80)} "
                     f"({record['score']:g}/{record['max_score']:g}): "
                     f"{safe('; '.join(record['problems']), 4 * journal.MAX_TEXT)}")
    return lines


