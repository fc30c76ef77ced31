"""Where submissions are graded: a Dask cluster, this machine's (a `LocalCluster`) or one given by address.

One code path for both: each submission is one task, `run_task`, that carries the
submission's files and depends on the assignment's bundle, and returns the result as data;
the client keeps a bounded window of tasks in flight and hands each result, once, to the
single writer.

A lost worker never costs a grade.  The bundle is a computed task (`identity` of the bundle),
not scattered data, so Dask's scheduler, which keeps its spec, computes it again when every
copy was on workers that are gone; nothing a task needs lives only on one worker.  A task
whose worker is lost is run again elsewhere by the scheduler; one that was running each of
the `distributed.scheduler.allowed-failures` + 1 times a worker died under it kills the
workers and scores 0 (`lost`).  Any other failure of a task (cancelled, the scheduler
restarted, a connection, an exception of the grader's own) is no grade at all: the task is
handed out again, `ATTEMPTS` times at most, and what still failed is left in
`DaskExecutor.not_graded`, for the caller to say so and record nothing.

What runs on the workers (the task, the worker plugin) is `coursetools.grading.worker`.
"""
import collections
import contextlib
import heapq
import itertools
import logging
import os
import tempfile
import time

from distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from coursetools import sandbox
from coursetools.errors import GradingError
from coursetools.grading.files import remove_tree
from coursetools.grading.worker import GraderPlugin, probe_worker, identity, run_task

#: Dask's own sampling, which takes CPU from the kernels it shares the cores with and which grading
#: does not use: the statistical profiler (every 10 ms by default), the event loop's health ticks
#: (20 ms), the memory and system monitors.  Workers this process starts get it with their config.
QUIET = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
         "distributed.worker.memory.monitor-interval": "2s", "distributed.admin.system-monitor.interval": "2s",
         "distributed.admin.system-monitor.gil.enabled": False}
#: The environment variable that marks the processes of a run on this machine with the client's PID.
RUN_MARK = "COURSETOOLS_GRADE_RUN"
#: How many times a task that failed for a reason of the cluster's or the grader's (not a lost worker,
#: which Dask's scheduler retries itself) is handed out in all, and the pause before each new try.
ATTEMPTS, BACKOFF = 3, (1.0, 3.0)
#: How often the client looks for a task due to be handed out again while no result is ready (seconds).
POLL = 0.1
#: A submission the cluster could not grade, however often it was tried: no grade, record nothing.
NotGraded = collections.namedtuple("NotGraded", "assignment task reason")


class DaskExecutor:
    """Tasks on a Dask cluster: the one at scheduler (an address), or a LocalCluster of jobs processes here."""

    def __init__(self, scheduler=None, jobs=None, security=None, sandboxed=True, limits=None, warm=True):
        import dask

        dask.config.set({"distributed.worker.daemon": False, **QUIET})
        # distributed reads its logging config once, as it is imported: a config key set now does nothing.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.cluster, self.folder, self.scheduler = None, None, scheduler
        #: After map: the submissions it could not grade (NotGraded), and how many tasks it handed out again.
        self.not_graded, self.retried = [], 0
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
        self.plugin = GraderPlugin(sandboxed, limits or sandbox.LIMITS, warm)
        self.topic = f"coursetools-started-{self.client.id}"
        self.starts = collections.Counter()  # task key: how often it started, by the scheduler's word
        self._register()

    def _register(self):
        """Tell the scheduler what this run needs of it: the workers' plugin, and the starts of tasks."""
        self.client.register_plugin(self.plugin)
        self.client.subscribe_topic(self.topic, self._started)

    def _started(self, event):  # on the client's event loop, in the order the scheduler heard them
        self.starts[event[1]] += 1

    def cores(self):
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())

    def probe(self):
        """Make every worker ready now (its sandbox probed); a GradingError names a worker that cannot grade."""
        workers = list(self.client.scheduler_info()["workers"])
        if not workers:
            raise GradingError("the Dask cluster has no workers")
        probes = [self.client.submit(probe_worker, self.plugin.name, workers=[address], allow_other_workers=False,
                                     pure=False)
                  for address in workers]
        try:
            return self.client.gather(probes)
        except GradingError:
            raise
        except Exception as problem:  # a worker's exception comes back as itself, or wrapped
            raise GradingError(str(problem)) from None

    def map(self, bundles, tasks, options, window=None):
        """Grade tasks, (assignment, task) pairs read as they are handed out; yield lists of results.

        Each list holds the results that were ready together (one, when the writer keeps up), and
        every result comes once.  The next tasks are handed out before a list is yielded, so the
        workers go on while the writer writes.  Tasks run in the order they were read (Dask's
        priorities); one handed out again keeps its place.

        What is never a result: a task that failed ATTEMPTS times for another reason than killing
        its workers (see the module).  Once the iteration ends, self.not_graded holds each of them
        as NotGraded(assignment, task, reason of the last failure), and self.retried how many
        tasks were handed out again.  A GradingError ends the iteration when the connection to the
        scheduler is lost for good.
        """
        window = window or max(4, 3 * self.cores())
        tasks, numbers, orders = iter(tasks), itertools.count(), itertools.count()
        self.not_graded, self.retried = [], 0
        shared = {}  # assignment: the future of its bundle
        flying = {}  # key: (future, assignment, task, attempt, order)
        waiting = []  # a heap of (when, number, assignment, task, attempt, order): to hand out again
        running = as_completed(loop=self.client.loop)

        def share(assignment):
            future = shared.get(assignment)
            if future is not None and future.status not in ("cancelled", "error"):
                return future  # pending, finished or lost (then being computed again): the scheduler's job
            if future is not None:  # forgotten by the scheduler (a restart, a cancel): it may have lost all of us
                future.release()
                self._register()
            bundle = bundles[assignment]
            shared[assignment] = future = self.client.submit(
                identity, bundle, pure=False, key=f"bundle-{assignment}-{bundle['key'][:16]}-{next(numbers)}")
            return future

        def hand_out(assignment, task, attempt, order):  # first come, first run, tried again or not
            try:
                future = self.client.submit(run_task, share(assignment), task, options, self.topic, self.plugin.name,
                                            pure=False,
                                            key=f"grade-{assignment}-{next(numbers)}-{task['fingerprint'][:16]}",
                                            priority=-order)
            except Exception as problem:
                self._connected(problem)
                failed(assignment, task, attempt, order, _why(problem))
            else:
                flying[future.key] = (future, assignment, task, attempt, order)
                running.add(future)

        def failed(assignment, task, attempt, order, why):
            if attempt < ATTEMPTS:
                self.retried += 1
                heapq.heappush(waiting, (time.monotonic() + BACKOFF[attempt - 1], next(numbers), assignment, task,
                                         attempt + 1, order))
            else:
                self.not_graded.append(NotGraded(assignment, task, why))

        def hand_out_more():
            while waiting and waiting[0][0] <= time.monotonic():
                hand_out(*heapq.heappop(waiting)[2:])
            while len(flying) + len(waiting) < window:
                following = next(tasks, None)
                if following is None:
                    break
                hand_out(*following, 1, next(orders))

        try:
            while True:
                hand_out_more()
                if not flying and not waiting:
                    return
                if not flying or (waiting and not running.has_ready()):  # wait for a result or a task's turn
                    time.sleep(min(POLL, max(0.0, waiting[0][0] - time.monotonic())))
                    continue
                results = []
                for future in running.next_batch(block=True):
                    _, assignment, task, attempt, order = flying.pop(future.key)
                    try:
                        results.append(future.result())
                    except KilledWorker as killed:
                        deaths, ran = killed.allowed_failures + 1, self.starts.get(future.key, 0)
                        if killed.task == future.key and ran >= deaths:
                            why = f"{deaths} worker{'s' * (deaths != 1)} died under it"
                            results.append(lost(assignment, task, f"it killed the grader's worker each time it was "
                                                                  f"run: {why}"))
                        else:  # queued behind a task that killed its workers (or its bundle was lost so)
                            failed(assignment, task, attempt, order, f"{deaths} of its workers died, while it ran "
                                                                     f"{ran} times: another task killed them")
                    except Exception as problem:  # cancelled, a connection, the scheduler's restart, the grader's
                        self._connected(problem)
                        failed(assignment, task, attempt, order, _why(problem))
                    finally:
                        self.starts.pop(future.key, None)
                        future.release()
                hand_out_more()
                if results:
                    yield results
        finally:
            for future, *_ in flying.values():
                future.release()
            for future in shared.values():
                future.release()

    def _connected(self, problem):
        """Raise a GradingError if the client gave up on the scheduler (it reconnects for 30 s)."""
        if self.client.status in ("closing", "closed"):
            where = f" at {self.scheduler}" if self.scheduler else ""
            raise GradingError(f"lost the connection to the Dask scheduler{where} ({_why(problem)}): what was "
                               "graded is kept, and running again grades the rest")

    def close(self):
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
        if self.folder:
            remove_tree(self.folder)


def _why(problem):
    """An exception in one short line: its type and message."""
    text = " ".join(str(problem).split())
    return (f"{type(problem).__name__}: {text}" if text else type(problem).__name__)[:300]


def lost(assignment, task, why):
    """The Graded of a submission that killed the grader's workers every time it was tried: 0 points, and why."""
    from coursetools.outcome import Graded, Outcome, Problem

    return Graded(Outcome(assignment, task["student"], task["fingerprint"],
                          problems=[*task.get("problems", ()), Problem("worker-lost", why)],
                          stamps={"queued": task["queued"]} if "queued" in task else {}))


