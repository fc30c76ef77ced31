"""The worker's side of grading on Dask: the task that grades one submission, and what a worker keeps.

A worker keeps what it needs across tasks in `GraderPlugin`, a Dask worker plugin: its sandbox
slot, the home template its kernels start from, its scratch folders.  `run_task` is the task;
`coursetools.grading.executors` (the client's side) submits it.
"""
import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.utils import sync

from coursetools import zygote
from coursetools.errors import GradingError
from coursetools.grading.files import remove_tree
from coursetools.grading.kernel import probe_sandbox, claim_slot
from coursetools.grading.submission import grade_submission

PLUGIN = "coursetools-grader"
#: Test-only fault hooks, read on the worker from its environment, never set for real grading: a task of
#: a student named (comma-separated ids) in COURSETOOLS_TEST_KILL_WORKER_ON ends its worker process
#: KILL_AFTER seconds after it starts (as a notebook that runs a moment, then brings its worker down,
#: would; exit status 137, a kill -9's); one named in COURSETOOLS_TEST_FAIL_TASK_ON raises RuntimeError,
#: as a worker that cannot grade would.  tests/test_cluster.py sets them on its `dask worker` processes.
KILL_WORKER_ON, FAIL_TASK_ON, KILL_AFTER = "COURSETOOLS_TEST_KILL_WORKER_ON", "COURSETOOLS_TEST_FAIL_TASK_ON", 2.0


class GraderPlugin(WorkerPlugin):
    """What one worker keeps between tasks; made ready (the sandbox checked) by its first task.

    Its name holds a digest of its settings.  A scheduler keeps the first plugin of a name (it is
    idempotent: a run registering it again, as after a scheduler's restart, changes nothing), so on
    a scheduler that outlives runs, a run with other settings (unsandboxed, other limits) has a
    plugin, and a folder, of its own, and its tasks name it (`run_task`'s plugin).
    """

    idempotent = True

    def __init__(self, sandboxed, limits, warm=True):
        self.sandboxed, self.limits, self.warm = sandboxed, dict(limits), warm
        settings = json.dumps([bool(sandboxed), sorted(self.limits.items()), bool(warm)])
        self.name = f"{PLUGIN}-{hashlib.sha256(settings.encode()).hexdigest()[:16]}"

    def setup(self, worker):  # on the worker, before its first task
        self.work = Path(worker.local_directory) / self.name
        for name in ("profile", "profile-cycle"):  # a cluster started elsewhere samples unless told not to
            if name in worker.periodic_callbacks:
                worker.periodic_callbacks[name].stop()
        self._lock, self._ready, self._problem, self._warm = threading.Lock(), False, None, None

    def teardown(self, worker):
        if self._warm is not None:
            self._warm.kill()
            self._warm.wait()
            remove_tree(os.path.dirname(self._warm_socket))
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
                        home = probe_sandbox(self.work)
                    except GradingError as problem:
                        self._problem = f"on the worker {os.uname().nodename} (pid {os.getpid()}): {problem}"
                    else:
                        slot, self._slot_holder = claim_slot()
                        self.launcher = ["--home-template", str(home), "--slot", str(slot)]
                        for name, value in self.limits.items():
                            self.launcher += ["--" + name.replace("_", "-"), str(value)]
                        if self.warm:
                            self._start_warm()
            if self._problem:
                raise GradingError(self._problem)
            if self._warm is not None and self._warm.poll() is not None:  # it died: another, or cold kernels
                remove_tree(os.path.dirname(self._warm_socket))
                self._warm, self.launcher = None, self.launcher[:-2]
                self._start_warm()
            return self.launcher

    def _start_warm(self):
        """Fork this worker's kernels from a warm process (each into a sandbox made for it), where one can start."""
        warm = zygote.start()
        if warm:
            self._warm, self._warm_socket = warm
            self.launcher += ["--zygote", self._warm_socket]


def run_task(bundle, task, options, started, plugin):
    """The Dask task: grade one submission on this worker; the result as data.

    started: the client's topic of starts (DaskExecutor), or None; each start is told to the scheduler, and
    acknowledged, before anything runs, so that the client knows which tasks were running when a
    worker died (not only queued behind one that was).  plugin: the name of the run's GraderPlugin.
    """
    worker = get_worker()
    if started:
        sync(worker.loop, worker.scheduler.log_event, topic=started, msg=worker.get_current_task())
    _fault_hooks(task)
    plugin = worker.plugins[plugin]
    launcher = plugin.prepare()
    shared = _kernel_folder()
    try:
        return grade_submission(bundle, task, {**options, "sandbox": launcher, "kernel_folder": shared,
                                               "cache": str(plugin.work / "cache")}, work=plugin.work)
    finally:
        remove_tree(shared)


def _fault_hooks(task):
    """The test-only faults of KILL_WORKER_ON and FAIL_TASK_ON, where this worker's environment sets them."""
    if task["student"] in os.environ.get(KILL_WORKER_ON, "").split(","):
        time.sleep(KILL_AFTER)
        os._exit(137)
    if task["student"] in os.environ.get(FAIL_TASK_ON, "").split(","):
        raise RuntimeError(f"{FAIL_TASK_ON} names {task['student']}")


def identity(value):
    """The task that holds an assignment's bundle on the workers: Dask recomputes it where it was lost."""
    return value


def probe_worker(plugin):
    """Run on each worker before grading: whether it grades sandboxed; a GradingError saying why it cannot."""
    return get_worker().plugins[plugin].prepare() is not None


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
