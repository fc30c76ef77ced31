"""Where one submission's CPU goes: the grader's own process (profiled) and its kernels, in one process.

    python benchmarks/profile_submission.py [N]     (make profile-grade; N right solutions per assignment, default 5)

A scratch course gets N full solutions of each assignment (CASE=student: N copies of that sample
case of coursetools/sample_class.py instead, such as a wrong answer, in each assignment that has
it); each is graded by
`grade_submission`, the very function a Dask worker runs, here in this process and
sandboxed as a worker would.  For each assignment it prints the CPU seconds per submission
of this process (nbgrader's pipeline, the grader's steps) and of the rest (the launcher,
bubblewrap and the kernel; a cpuacct cgroup, benchmarks/cpu_account.py), the outcome's stage
times, and the functions of this process that take most of its time (cProfile in CPU time,
cumulative and own; TOP=n of each, TOP=0 for no profile and clean CPU seconds; DUMP=prefix also
writes prefix-<assignment>.prof).  Kernels are forked from a warm process (coursetools/zygote.py),
as a worker's are, unless WARM=0.  The first submission of each assignment is graded before
measuring (imports, the private gradebook's cache), as a worker's first task would have been.
"""
import cProfile
import dataclasses
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from conftest import copy_course  # noqa: E402
from cpu_account import counted  # noqa: E402

from coursetools import sandbox, zygote  # noqa: E402
from coursetools.course import release, settings  # noqa: E402
from coursetools.gradebook import open_gradebook  # noqa: E402
from coursetools.grading import intake  # noqa: E402
from coursetools.grading.assignment import bundle, ensure_path  # noqa: E402
from coursetools.grading.kernel import claim_slot, probe_sandbox  # noqa: E402
from coursetools.grading.submission import grade_submission  # noqa: E402
from coursetools.outcome import percentiles  # noqa: E402
from coursetools.sample_class import CLASS, write_submission  # noqa: E402


#: How many functions of the grader's process each ordering (cumulative, own time) lists; 0: no profile,
#: so that the CPU seconds are not inflated by it.
TOP = int(os.environ.get("TOP", "40"))


def cpu(who):
    used = resource.getrusage(who)
    return used.ru_utime + used.ru_stime


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder) / "course"
        course.mkdir()
        copy_course(course)
        release(course)
        chosen = {}  # assignment: the sample case graded
        for name, cases in CLASS.items():
            wanted = os.environ.get("CASE")
            case = next((c for c in cases if c.student == wanted) if wanted else
                        (c for c in cases if c.right and not c.edits), None)
            if case is None:
                continue
            chosen[name] = case
            for index in range(count + 1):
                write_submission(course, dataclasses.replace(case, student=f"{case.student}-{index:03d}"))
        if not chosen:
            raise SystemExit(f"no sample case named {os.environ.get('CASE')!r}")
        ensure_path()
        course_id, db_url = settings(course, None)
        gradebook = open_gradebook(db_url, course_id)
        work = Path(folder) / "work"
        work.mkdir()
        os.chmod(work, 0o755)
        home = probe_sandbox(work)
        slot, holder = claim_slot()
        launcher = ["--home-template", str(home), "--slot", str(slot)]
        for key, value in sandbox.LIMITS.items():
            launcher += ["--" + key.replace("_", "-"), str(value)]
        warm = zygote.start(work) if os.environ.get("WARM", "1") != "0" else None
        if warm:
            launcher += ["--zygote", warm[1]]
        options = {"sandbox": launcher, "kernel_folder": str(work), "cache": str(work / "cache")}
        (work / "cache").mkdir()
        found, _ = intake.find_submissions(course, list(chosen), None)
        for name, case in chosen.items():
            data = bundle(course, name, gradebook, course_id)
            mine = sorted((s for s in found if s.assignment == name), key=lambda s: s.student)
            tasks = []
            for submission in mine:
                read = intake.read_submission(submission.folder, 100, 32 * 2 ** 20)
                tasks.append({"student": submission.student, "fingerprint": "0" * 64, "files": dict(read.files)})
            grade_submission(data, tasks[0], options, work)  # warm: imports, the gradebook cache
            clock = time.perf_counter if os.environ.get("WALL") else time.process_time
            profile, outcomes = cProfile.Profile(clock), []  # CPU time (WALL=1: wall time, waits included)
            own = cpu(resource.RUSAGE_SELF)
            with counted([warm[0].pid] if warm else []) as used:
                for task in tasks[1:]:
                    if TOP:
                        profile.enable()
                    graded = grade_submission(data, task, options, work)
                    profile.disable()
                    outcomes.append(graded.outcome)
                    assert graded.outcome.score == graded.outcome.max_score or not case.right, graded.outcome.texts()
            own = cpu(resource.RUSAGE_SELF) - own
            print(f"{name}: {count} x {case.student}, {'warm' if warm else 'cold'} kernels; CPU-s per submission ({used['how']}): grader process "
                  f"{own / count:.2f}, launcher + sandbox + kernel {(used['cpu'] - own) / count:.2f}, "
                  f"together {used['cpu'] / count:.2f}")
            print("  stages, median / 95th percentile (s): " + ", ".join(
                f"{stage} {shares[50]:.2f} / {shares[95]:.2f}" for stage, shares in percentiles(outcomes).items()))
            if not TOP:
                continue
            text = io.StringIO()
            stats = pstats.Stats(profile, stream=text)
            if os.environ.get("DUMP"):
                stats.dump_stats(f"{os.environ['DUMP']}-{name}.prof")
            stats.sort_stats("cumulative").print_stats(TOP)
            stats.sort_stats("tottime").print_stats(TOP)
            print("\n".join("  " + line for line in text.getvalue().splitlines() if line.strip()
                             and "function calls" not in line and "Ordered by" not in line))
        gradebook.close()
        holder.close()


if __name__ == "__main__":
    main()
