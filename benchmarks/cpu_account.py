"""CPU seconds of a process tree, every descendant counted: a cgroup v1 `cpuacct` group, else rusage.

`resource.RUSAGE_CHILDREN` misses a sandboxed kernel: jupyter_client kills its launcher, and the
kernel, reaped inside bubblewrap's PID namespace, is never waited for by anything that reports to
us.  A cpuacct group (cgroup v1, separate from the `cpu` hierarchy the sandboxes move their
kernels in) counts every process forked from a member, wherever it ends.
"""
import contextlib
import os
import resource
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/cpuacct")


def _rusage():
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)


@contextlib.contextmanager
def counted(others=()):
    """Yield a dict whose "cpu" is, on leaving, the CPU seconds of this process and all it started
    meanwhile, and "how" the means ("cpuacct" or "rusage (kernels in a sandbox not counted)").

    others: PIDs of processes started before, whose CPU (and their new children's) counts too from now
    on, such as a warm process that forks kernels (they are moved into the group and back)."""
    result = {}
    group = ROOT / f"coursetools-bench-{os.getpid()}-{time.monotonic_ns()}"
    try:
        group.mkdir()
        for pid in (os.getpid(), *others):
            (group / "cgroup.procs").write_text(str(pid))
    except OSError:
        group = None
    before = _rusage()
    try:
        yield result
    finally:
        if group is not None:
            used = int((group / "cpuacct.usage").read_text()) / 1e9
            for pid in (os.getpid(), *others):
                with contextlib.suppress(OSError):
                    (ROOT / "cgroup.procs").write_text(str(pid))
            for _ in range(50):  # a descendant still ending keeps the group busy a moment
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            result.update(cpu=used, how="cpuacct")
        else:
            result.update(cpu=_rusage() - before, how="rusage (kernels in a sandbox not counted)")
