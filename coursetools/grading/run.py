"""A run of `make grade`: find the class's submissions, grade what the journal lacks, write each outcome once.

The client (this process) reads the course and the central gradebook, makes one task per
submission (its files, read from `submitted/` within limits, and a fingerprint of them and of the
source), hands the tasks to an executor, and is the single writer of what comes back: the
autograded notebooks, the gradebook, then the journal.  The run is total: whatever a submission
holds becomes that submission's outcome (0 points and why, where it cannot be graded); only
course-level faults (no sandbox, no gradebook, an assignment missing, a cluster that loses work
it cannot redo) stop it with a GradingError.
"""
import hashlib
import sys
import time
from pathlib import Path

from coursetools import cgroups, sandbox
from coursetools.course import REPO, assignments, settings
from coursetools import journal
from coursetools.grading import intake
from coursetools.grading.assignment import bundle, ensure_path
from coursetools.errors import GradingError
from coursetools.grading.execute import NOTEBOOK_TIMEOUT
from coursetools.outcome import Problem, percentiles, safe
from coursetools.grading.progress import Progress
from coursetools.gradebook import open_gradebook, shown_url
from coursetools.grading.writer import Writer

#: What one submission folder may hold: more is not graded (0 points, and why).
MAX_SUBMISSION_FILES, MAX_SUBMISSION_BYTES = 100, 32 * 2 ** 20


class Interrupted(GradingError):
    """The run was stopped (Ctrl-C); what was graded is kept, and a new run finishes the rest."""


def grade(root=REPO, names=None, jobs=None, sandboxed=True, force=False, students=None, cell_timeout=None,
          notebook_timeout=NOTEBOOK_TIMEOUT, limits=None, stream=None, db_url=None, scheduler=None, security=None,
          warm=True):
    """Grade every collected submission of the named assignments (all by default); return the summary's lines.

    db_url: the gradebook (default: nbgrader's CourseDirectory.db_url, else gradebook.db);
    scheduler: a Dask scheduler's address (default: a cluster of jobs processes on this machine);
    security: a distributed.security.Security for a TLS scheduler;
    warm: fork kernels from each worker's warm process where it can run (`coursetools.zygote`).
    """
    from coursetools.grading.executors import DaskExecutor
    from coursetools.grading.worker import remove_stale_folders

    root, stream = Path(root).resolve(), stream or sys.stderr
    ensure_path()
    chosen = [a for a in assignments(root) if names is None or a.name in names]
    if names is not None and len(chosen) != len(set(names)):
        raise GradingError(f"no such assignment: {sorted(set(names) - {a.name for a in chosen})}")
    course_id, db_url = settings(root, db_url)
    found, refused = intake.find_submissions(root, [a.name for a in chosen], students)
    for refusal in refused:
        print(f"refused {refusal.name}: {refusal.reason}; not graded", file=stream, flush=True)
    remove_stale_folders()
    cgroups.remove_orphaned_caps()
    gradebook = open_gradebook(db_url, course_id)
    executor = None
    try:
        bundles = {name: bundle(root, name, gradebook, course_id) for name in {s.assignment for s in found}}
        done = {} if force else journal.read(root, db_url)
        pending = [s for s in found if done.get((s.assignment, s.student)) is None
                   or done[(s.assignment, s.student)].fingerprint != _fingerprint(bundles[s.assignment], s.folder)]
        skipped = len(found) - len(pending)
        if pending:
            executor = DaskExecutor(scheduler, jobs, security, sandboxed, {**sandbox.LIMITS, **(limits or {})}, warm)
            executor.probe()
        where = f"on {scheduler}" if scheduler else "here"
        workers = executor.cores() if executor else 0
        print(f"grading {len(pending)} submissions with {workers} workers {where} into {shown_url(db_url)}"
              f"{'' if sandboxed else ' UNSANDBOXED'}" + (f" ({skipped} already graded)" if skipped else ""),
              file=stream, flush=True)
        if sandboxed and pending and not scheduler and cgroups.memory_cgroup() is None:
            print("no memory cgroup can be made here (not root, or no memory controller): memory is limited per"
                  " process only, not per sandbox", file=stream, flush=True)
        if sandboxed and pending and not scheduler and cgroups.cpu_cgroup() is None:
            print("no cpu cgroup can be made here (not root, or no cpu controller): CPU is shared per process,"
                  " not per sandbox", file=stream, flush=True)
        options = {"cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout}
        unwritten = _write_all(root, db_url, gradebook, executor, bundles, pending, options, stream) \
            if pending else []
    finally:
        gradebook.close()
        if executor is not None:
            executor.close()
    if unwritten:
        raise GradingError(f"{len(unwritten)} submissions could not be written or graded ({unwritten[0]}, ...); "
                           "nothing was recorded for them: run again to grade them")
    return summary(root, db_url, [a.name for a in chosen], refused)


def _fingerprint(bundle_, folder):
    """The fingerprint of a submission folder graded as bundle_: its files (read within limits) and the source."""
    read = intake.read_submission(folder, MAX_SUBMISSION_FILES, MAX_SUBMISSION_BYTES)
    return hashlib.sha256((bundle_["key"] + read.digest).encode()).hexdigest()


def _tasks(pending, bundles):
    """(assignment, task) for each pending submission, its files read (within limits) only when it is handed out."""
    for submission in pending:
        read = intake.read_submission(submission.folder, MAX_SUBMISSION_FILES, MAX_SUBMISSION_BYTES)
        fingerprint = hashlib.sha256((bundles[submission.assignment]["key"] + read.digest).encode()).hexdigest()
        task = {"student": submission.student, "fingerprint": fingerprint, "files": dict(read.files), "problems": [],
                "queued": time.time()}
        if read.left_out:
            task["problems"].append(Problem("left-out-files", "left out what is not a regular file: "
                                            + safe(", ".join(read.left_out))))
        if read.too_large:
            task["problems"].append(Problem("too-large", f"the submission folder holds {read.too_large}: not graded, "
                                                         "0 points"))
        if "timestamp.txt" in task["files"]:  # nbgrader reads only our own, strict rendering of it
            text, problem = intake.parse_timestamp(task["files"].pop("timestamp.txt"))
            if text is not None:
                task["files"]["timestamp.txt"] = text.encode()
            if problem:
                task["problems"].append(Problem("bad-timestamp", problem))
        yield submission.assignment, task


def _write_all(root, db_url, gradebook, executor, bundles, pending, options, stream):
    """Grade pending on executor and write each outcome; return why each one that was not written was not."""
    progress, unwritten, writer = Progress(len(pending), stream), [], Writer(gradebook, root, db_url)
    try:
        for batch in executor.map(bundles, _tasks(pending, bundles), options):
            outcomes = _write(writer, batch, unwritten, progress)
            journal.append(root, db_url, outcomes)
            for outcome in outcomes:
                progress.update(f"{outcome.assignment}/{safe(outcome.student, 80)}: {outcome.score:g}/"
                                f"{outcome.max_score:g} in {outcome.seconds:.1f} s"
                                + (f"; {'; '.join(outcome.texts())}" if outcome.problems else ""))
        unwritten += [f"{assignment}/{safe(task['student'], 80)}: {why}"
                      for assignment, task, why in executor.not_graded]
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {progress.done} of {len(pending)}; run again to grade the rest") \
            from None
    finally:
        writer.close()
    return unwritten


def _write(writer, batch, unwritten, progress):
    """Write batch; where the gradebook refuses it whole, each one alone, so that one refusal costs one submission."""
    try:
        return writer.write(batch)
    except GradingError as refused:
        if len(batch) == 1:
            outcome = batch[0].outcome
            unwritten.append(f"{outcome.assignment}/{safe(outcome.student, 80)}: {refused}")
            progress.update(f"{outcome.assignment}/{safe(outcome.student, 80)}: NOT WRITTEN: {refused}")
            return []
        return [outcome for graded in batch for outcome in _write(writer, [graded], unwritten, progress)]


def summary(root, db_url, names, refused=()):
    """Lines of the run's summary: every graded submission with a problem and why, then the refused folders."""
    outcomes = [o for key, o in sorted(journal.read(root, db_url).items()) if key[0] in names]
    troubled = [o for o in outcomes if o.problems]
    lines = [f"summary: {len(outcomes)} submissions graded, {len(troubled)} with problems"
             + (f", {len(refused)} folders refused" if refused else "")]
    stages = percentiles(outcomes)
    if stages:
        lines.append("  seconds per stage, median and 95th percentile: " + ", ".join(
            f"{stage} {shares[50]:.2f} / {shares[95]:.2f}" for stage, shares in stages.items()))
    for outcome in troubled:
        lines.append(f"  {outcome.assignment}/{safe(outcome.student, 80)} ({outcome.score:g}/{outcome.max_score:g}): "
                     f"{safe('; '.join(outcome.texts()), 1600)}")
    for refusal in refused:
        lines.append(f"  refused {refusal.name}: {refusal.reason}")
    return lines
