"""Stock `nbgrader autograde` vs `make grade` (coursetools.grading) on one synthetic class, in the same run.

Run with `make bench-grade` (optionally SUBMISSIONS=n per assignment, default 60, CLASS=right for
a class of full solutions only, and JOBS=n workers, by default one per core).  The class cycles through the sample cases (right and wrong answers)
of every assignment, or is all right answers.  Three identical scratch courses are graded: by stock
nbgrader, by `grade --cold-kernels` (every kernel started afresh, as before warm kernels), and by
`grade`.  The script checks that every cell's score agrees and prints, per grader: submissions per
minute, the ratio, the peak memory of the whole process tree (kernels included; proportional set
sizes, so that pages the warm kernels share are counted once) and of the largest single process of
each role (the client or nbgrader's own process, a Dask worker, a kernel with its sandbox), and for
`grade` where a worker's time goes (starting and stopping kernels, running cells, the rest of
nbgrader's pipeline), the CPU seconds per submission of each (every process counted: a cpuacct
cgroup around each command, benchmarks/cpu_account.py, which also counts the sandboxed kernels that
rusage misses) with the projection for 100,000 submissions on 64 cores, and the median and 95th
percentile of each stage of grading (the outcomes' stamps).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from conftest import copy_course  # noqa: E402
from cpu_account import counted  # noqa: E402

from coursetools.course import assignments, release  # noqa: E402
from coursetools.journal import read as read_journal  # noqa: E402
from coursetools.outcome import percentiles  # noqa: E402
from coursetools.sample_class import CLASS, Case, write_submission  # noqa: E402

PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _pss(pid):
    """The proportional set size of pid, bytes: its resident pages, each shared page divided among its sharers.

    Warm kernels are forked from one process and share most of their pages with it; their resident
    sizes would count those pages once per kernel.  None where smaps_rollup cannot be read.
    """
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree(root_pid):
    """{pid: (proportional set size in bytes, role)} of root_pid and all its descendants.

    role: "main" for root_pid (stock nbgrader's process, or make grade's client), "kernel" for an
    ipykernel and the sandbox's launcher and bwrap around it (and the warm process kernels are forked
    from, with its forks, which keep its command line), "worker" for any other descendant
    (make grade's Dask worker processes).
    """
    parents, found = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = stat.rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            found[int(entry)] = (_pss(entry) or int(fields[21]) * os.sysconf("SC_PAGE_SIZE"), command)
        except (OSError, ValueError, IndexError):
            continue
    family, grew = {root_pid}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    roles = {}
    for pid in family & set(found):
        rss, command = found[pid]
        kernel = any(word in command for word in ("ipykernel", "sandbox.py", "bwrap", "zygote.py"))
        roles[pid] = (rss, "main" if pid == root_pid else "kernel" if kernel else "worker")
    return roles


def timed(command, cwd):
    """Run command; return (seconds, peaks, cpu): peaks are bytes, {"tree": all processes at once, and for each
    role of `tree` the largest one process of that role reached}; cpu is the CPU seconds of the command and
    of every process under it (benchmarks/cpu_account.py)."""
    with counted() as used:
        seconds, peaks = _run(command, cwd)
    return seconds, peaks, used["cpu"]


def _run(command, cwd):
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "PATH": PATH},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = {"tree": 0, "main": 0, "worker": 0, "kernel": 0}

    def sample():
        while process.poll() is None:
            now = tree(process.pid)
            peaks["tree"] = max(peaks["tree"], sum(rss for rss, _ in now.values()))
            for rss, role in now.values():
                peaks[role] = max(peaks[role], rss)
            time.sleep(0.5)  # sampling is cheap at this rate; both graders pay the same

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{errors[-3000:]}")
    return time.perf_counter() - started, peaks


def mib(peaks):
    return ", ".join(f"{name} {value / 2 ** 20:.0f} MiB" for name, value in peaks.items() if value)


def synthetic_class(course, per_assignment, right_only=False):
    counts = {}
    for assignment in assignments(course):
        cases = [c for c in CLASS.get(assignment.name, ()) if c.right or not right_only]
        for index in range(per_assignment if cases else 0):
            case = cases[index % len(cases)]
            write_submission(course, Case(f"{case.student}-{index:03d}", case.assignment, case.edits, case.broken,
                                          case.points, case.untouched))
        counts[assignment.name] = per_assignment if cases else 0
    return counts


def grades(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {(a.name, s.student_id, n.name, g.name): (g.auto_score, g.needs_manual_grade)
                for a in gradebook.assignments for s in gradebook.assignment_submissions(a.name)
                for n in s.notebooks for g in n.grades}


def main():
    per_assignment = int(os.environ.get("SUBMISSIONS", "60"))
    with tempfile.TemporaryDirectory() as folder:
        stock = Path(folder) / "stock"
        stock.mkdir()
        copy_course(stock)
        release(stock)
        right_only = os.environ.get("CLASS", "mixed") == "right"
        counts = synthetic_class(stock, per_assignment, right_only)
        ours = Path(folder) / "ours"
        shutil.copytree(stock, ours, symlinks=True)
        total = sum(counts.values())
        print(f"synthetic class of {'right answers' if right_only else 'right and wrong answers'}: {counts} "
              f"submissions on {os.cpu_count()} cores")

        stock_seconds, stock_peaks, stock_cpu = 0.0, {}, 0.0
        for name, count in counts.items():
            if count:
                seconds, peaks, cpu = timed([sys.executable, "-m", "nbgrader", "autograde", name, "--force"], stock)
                stock_seconds += seconds
                stock_cpu += cpu
                stock_peaks = {k: max(v, stock_peaks.get(k, 0)) for k, v in peaks.items()}
                print(f"  stock nbgrader autograde {name}: {count} in {seconds:.1f} s, {seconds / count:.2f} s each")
        cold = Path(folder) / "cold"
        shutil.copytree(ours, cold, symlinks=True)
        jobs = int(os.environ.get("JOBS", os.cpu_count()))
        grade = [sys.executable, "-m", "coursetools", "grade", "--jobs", str(jobs), "--root"]
        cold_seconds, cold_peaks, cold_cpu = timed([*grade, str(cold), "--cold-kernels"], REPO)
        ours_seconds, ours_peaks, ours_cpu = timed([*grade, str(ours)], REPO)

        same = grades(ours) == grades(stock) == grades(cold)
        stock_rate, ours_rate = total / stock_seconds * 60, total / ours_seconds * 60
        outcomes = list(read_journal(ours).values())
        worker = sum(o.seconds for o in outcomes)
        kernel = sum(o.timings.get("kernel", 0) for o in outcomes)
        cells = sum(o.timings.get("cells", 0) for o in outcomes)
        print(f"stock nbgrader autograde: {stock_seconds:.1f} s, {stock_rate:.1f} submissions/min, "
              f"peak memory: {mib(stock_peaks)} (main: nbgrader's process)")
        print(f"make grade --cold-kernels: {cold_seconds:.1f} s, {total / cold_seconds * 60:.1f} submissions/min, "
              f"{total / cold_seconds * 60 / stock_rate:.2f}x stock, peak memory: {mib(cold_peaks)}")
        print(f"make grade ({jobs} workers, sandboxed, warm kernels): {ours_seconds:.1f} s, "
              f"{ours_rate:.1f} submissions/min, peak memory: {mib(ours_peaks)} "
              f"(main: the client; worker, kernel: the largest one)")
        print(f"ratio: {ours_rate / stock_rate:.2f}x stock (issue 20 aims at >= 3x); every cell's score equal: {same}")
        print(f"grade, summed over workers: {worker:.1f} s; starting and stopping sandboxed kernels "
              f"{kernel / worker:.0%}, running the cells {cells / worker:.0%}, "
              f"rest of nbgrader's pipeline (sanitizing, gradebook copies, writing notebooks) "
              f"{(worker - kernel - cells) / worker:.0%}")
        for name, cpu in (("stock nbgrader autograde", stock_cpu), ("make grade --cold-kernels", cold_cpu),
                          ("make grade", ours_cpu)):
            print(f"{name}: {cpu / total:.2f} CPU-s per submission, every process counted; 100,000 submissions on "
                  f"64 cores: {cpu / total * 100_000 / 64 / 3600:.2f} h at that cost")
        stages = percentiles(outcomes)
        print("make grade, seconds per stage (median / 95th percentile): " + ", ".join(
            f"{stage} {shares[50]:.2f} / {shares[95]:.2f}" for stage, shares in stages.items()))
        if not same:
            raise SystemExit("the scores differ")


if __name__ == "__main__":
    main()
