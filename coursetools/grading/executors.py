"""Where submissions are graded: a Dask cluster, this machine's (a `LocalCluster`) or one given by address.

One code path for both: each submission is one task, `run_task`, that carries the
submission's files and the assignment's bundle and returns the result as data; the client
keeps a bounded window of tasks in flight and hands each result, once, to the single writer.
A task whose worker dies is run again by Dask's scheduler (up to its `allowed-failures`), and
one that kills its worker every time comes back as a problem of that submission alone.

A worker keeps what it needs across tasks in `GraderPlugin`, a Dask worker plugin: its
sandbox slot, the home template its kernels start from, its scratch folders.
"""
import contextlib
import itertools
import os
import tempfile
import threading
from pathlib import Path

from distributed import Client, LocalCluster, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from coursetools import sandbox
from coursetools.grading.errors import GradingError
from coursetools.grading.files import remove_tree
from coursetools.grading.kernel import check_sandbox, claim_slot
from coursetools.grading.submission import grade_submission

PLUGIN = "coursetools-grader"
#: Dask's own sampling, which takes CPU from the kernels it shares the cores with and which grading
#: does not use: the statistical profiler (every 10 ms by default), the event loop's health ticks
#: (20 ms), the memory and system monitors.  Workers this process starts get it with their config.
QUIET = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
         "distributed.worker.memory.monitor-interval": "2s", "distributed.admin.system-monitor.interval": "2s",
         "distributed.admin.system-monitor.gil.enabled": False}
#: The environment variable that marks the processes of a run on this machine with the client's PID.
RUN_MARK = "COURSETOOLS_GRADE_RUN"


class GraderPlugin(WorkerPlugin):
    """What one worker keeps between tasks; made ready (the sandbox checked) by its first task."""

    name = PLUGIN
    idempotent = True

    def __init__(self, sandboxed, limits):
        self.sandboxed, self.limits = sandboxed, dict(limits)

    def setup(self, worker):  # on the worker, before its first task
        self.work = Path(worker.local_directory) / "coursetools"
        for name in ("profile", "profile-cycle"):  # a cluster started elsewhere samples unless told not to
            if name in worker.periodic_callbacks:
                worker.periodic_callbacks[name].stop()
        self._lock, self._ready, self._problem = threading.Lock(), False, None

    def teardown(self, worker):
        remove_tree(self.work)

    def prepare(self):
        """The launcher's arguments for this worker's kernels (None unsandboxed); raise GradingError without a sandbox."""
        with self._lock:
            if not self._ready:
                self._ready = True
                remove_stale_folders()  # of this host's grading processes that were killed
                remove_tree(self.work)
                self.work.mkdir(parents=True)
                os.chmod(self.work, 0o755)
                self.launcher = None
                if self.sandboxed:
                    try:
                        home = check_sandbox(self.work)
                    except GradingError as problem:
                        self._problem = f"on the worker {os.uname().nodename} (pid {os.getpid()}): {problem}"
                    else:
                        slot, self._slot_holder = claim_slot()
                        self.launcher = ["--home-template", str(home), "--slot", str(slot)]
                        for name, value in self.limits.items():
                            self.launcher += ["--" + name.replace("_", "-"), str(value)]
            if self._problem:
                raise GradingError(self._problem)
            return self.launcher


def run_task(bundle, task, options):
    """The Dask task: grade one submission on this worker; the result as data."""
    plugin = get_worker().plugins[PLUGIN]
    launcher = plugin.prepare()
    shared = _kernel_folder()
    try:
        return grade_submission(bundle, task, {**options, "sandbox": launcher, "kernel_folder": shared,
                                               "cache": str(plugin.work / "cache")}, work=plugin.work)
    finally:
        remove_tree(shared)


def check_worker():
    """Run on each worker before grading: the sandbox's arguments, or a GradingError saying why there is none."""
    return get_worker().plugins[PLUGIN].prepare() is not None


def _kernel_folder():
    """A folder for the kernels' connection files and sockets: in /dev/shm where it is a tmpfs.

    The kernel can write there; in a tmpfs what it writes is memory, charged to its sandbox's
    memory cgroup, not the host's disk.
    """
    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    folder = tempfile.mkdtemp(prefix=f"coursetools-{os.getpid()}-", dir=where)
    os.chmod(folder, 0o755)
    return folder


def remove_stale_folders():
    """Folders of grading processes that were killed (their PID is in the name, and gone): kernels', runs'."""
    for where, prefix in (("/dev/shm", "coursetools-"), (tempfile.gettempdir(), "coursetools-grade-")):
        with contextlib.suppress(OSError):
            for name in os.listdir(where):
                pid = name[len(prefix):].split("-")[0] if name.startswith(prefix) else ""
                if pid.isdigit():
                    try:
                        os.kill(int(pid), 0)
                    except ProcessLookupError:
                        remove_tree(os.path.join(where, name))
                    except OSError:
                        pass


class DaskExecutor:
    """Tasks on a Dask cluster: the one at scheduler (an address), or a LocalCluster of jobs processes here."""

    def __init__(self, scheduler=None, jobs=None, security=None, sandboxed=True, limits=None):
        import dask

        dask.config.set({"distributed.worker.daemon": False, "distributed.logging.distributed": "error",
                         **QUIET})
        self.cluster, self.folder = None, None
        try:
            if scheduler:
                self.client = Client(scheduler, security=security, timeout="30s")
            else:  # its workers' folders in one of ours, marked with our PID (grading processes left by a kill)
                self.folder = tempfile.mkdtemp(prefix=f"coursetools-grade-{os.getpid()}-")
                dask.config.set({"temporary-directory": self.folder})
                self.cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                            processes=True, dashboard_address=None, silence_logs=50,
                                            worker_dashboard_address=None, local_directory=self.folder,
                                            env={RUN_MARK: str(os.getpid())})
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as problem:
            self.close()
            raise GradingError(f"cannot reach the Dask scheduler at {scheduler}: {problem}") from None
        self.client.register_plugin(GraderPlugin(sandboxed, limits or sandbox.LIMITS))

    def cores(self):
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())

    def check(self):
        """Make every worker ready now (its sandbox checked); a GradingError names a worker that cannot grade."""
        workers = list(self.client.scheduler_info()["workers"])
        if not workers:
            raise GradingError("the Dask cluster has no workers")
        checks = [self.client.submit(check_worker, workers=[address], allow_other_workers=False, pure=False)
                  for address in workers]
        try:
            return self.client.gather(checks)
        except GradingError:
            raise
        except Exception as problem:  # a worker's exception comes back as itself, or wrapped
            raise GradingError(str(problem)) from None

    def map(self, bundles, tasks, options, window=None):
        """Grade tasks, (assignment, task) pairs read as they are handed out; yield lists of results.

        Each list holds the results that were ready together (one, when the writer keeps up), and
        every result comes once.  The next tasks are handed out before a list is yielded, so the
        workers go on while the writer writes.
        """
        window = window or max(4, 3 * self.cores())
        tasks, bundle_futures, pending, numbers = iter(tasks), {}, {}, itertools.count()
        running = as_completed()

        def submit():
            for assignment, task in tasks:
                if assignment not in bundle_futures:
                    # (in a list: a dict alone would be scattered value by value)
                    bundle_futures[assignment], = self.client.scatter([bundles[assignment]], broadcast=True,
                                                                      hash=False)
                future = self.client.submit(run_task, bundle_futures[assignment], task, options, pure=False,
                                            key=f"grade-{assignment}-{next(numbers)}-{task['fingerprint'][:16]}")
                pending[future.key] = (assignment, task)
                running.add(future)
                return True
            return False

        for _ in range(window):
            if not submit():
                break
        for futures in running.batches():
            results = []
            for future in futures:
                assignment, task = pending.pop(future.key)
                try:
                    results.append(future.result())
                except Exception as problem:  # the task failed on every worker it was given to
                    results.append(lost(assignment, task, "the grader's workers died on this submission "
                                                          f"({type(problem).__name__})"))
                future.release()
                submit()
            yield results

    def close(self):
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
        if self.folder:
            remove_tree(self.folder)


def lost(assignment, task, why):
    """The result of a submission nobody could grade: 0 points, and why."""
    from coursetools.grading.diagnoses import problem

    return {"assignment": assignment, "student": task["student"], "fingerprint": task["fingerprint"],
            "timestamp": None, "notebooks": {}, "problems": [*task.get("problems", ()), problem("worker-lost", why)],
            "files": {}, "timings": {}, "seconds": 0.0, "mistakes": {}}


