"""The audit of one assignment: every mutant judged twice, in parallel, each within a time limit, then the rule.

The rule: a mutant the truth finds wrong must lose points of its own function, and no other
function may lose any; a mutant the truth finds equivalent must keep every point.  Verdicts:
  killed           wrong; its function scores 0 under every seed, the others full marks
  partly-killed    wrong; its function keeps some points under some seed (a visible test it passes)
  survivor         wrong; its function keeps full marks under some seed          (breaks the rule)
  kept             equivalent; full marks everywhere
  false-rejection  equivalent; some function loses points under some seed       (breaks the rule)
  collateral       another function loses points                                   (breaks the rule)
  timeout          ran out of time in the audit (its truth and grade unknown)      (breaks the rule)
"""
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field

from coursetools.audit import judge, mutate, notebook, subject as subjects, truth
from coursetools.errors import GradingError

BREAKS = ("survivor", "false-rejection", "collateral", "timeout")
#: CPU seconds one mutant may take in a worker (truth and grade together), and the wall-clock slack the
#: parent allows a worker beyond them before it gives up on the run.
CPU_LIMIT = 60
#: The grader's seeds are drawn from the audit's seed: this many of them.
SEEDS = 3


@dataclass
class Judged:
    """One mutant's two verdicts and what the rule makes of them.

    truth: "equivalent", "wrong" or "unknown"; why: the truth's first difference; points:
    {seed: {function: points}}; mistakes: {seed: {function: mistake id}} the grader's call found.
    """

    mutant: mutate.Mutant
    truth: str
    why: str = ""
    points: dict = field(default_factory=dict)
    mistakes: dict = field(default_factory=dict)
    verdict: str = ""
    seconds: float = 0.0


def rule(judged, maxima):
    """The verdict of judged (a Judged with truth and points) given {function: max points}."""
    if judged.truth == "unknown" or not judged.points:
        return "timeout"
    own = judged.mutant.function
    others_lost = any(points[f] < maxima[f] for points in judged.points.values() for f in maxima if f != own)
    own_points = [points[own] for points in judged.points.values()]
    if judged.truth == "equivalent":
        return "false-rejection" if others_lost or min(own_points) < maxima[own] else "kept"
    if others_lost:
        return "collateral"
    if max(own_points) >= maxima[own]:
        return "survivor"
    return "killed" if max(own_points) == 0 else "partly-killed"


def grader_seeds(seed, count=SEEDS):
    """The seeds of the grader's own call for an audit seeded with seed: fixed, distinct, shown in the report."""
    import random

    draw = random.Random(f"grader-seeds:{seed}")
    return [draw.randrange(2 ** 32) for _ in range(count)]


class _OutOfTime(BaseException):
    pass


def _expire(signum, frame):
    raise _OutOfTime()


_WORKER = {}


def _start(root, name, seed, seeds):
    """A worker's set-up: the assignment, the solution's namespace and the domains, once per process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        subject = subjects.load(root, name)
        notebook.prepare(subject)
        _WORKER.update(subject=subject, solution=notebook.namespace(subject)[0], seed=seed, seeds=seeds,
                       domains=truth.load_domains(root, subject.module))
    except Exception as error:  # said by every task of this worker (a pool starts a failed worker again)
        _WORKER["error"] = f"{type(error).__name__}: {error}"


def judge_one(mutant):
    """Both verdicts of one mutant, in a worker set up by _start; at most CPU_LIMIT seconds of CPU."""
    w = _WORKER
    if "error" in w:
        raise RuntimeError(f"a worker could not start: {w['error']}")
    started = time.monotonic()
    found = Judged(mutant, "unknown")
    signal.signal(signal.SIGPROF, _expire)
    signal.setitimer(signal.ITIMER_PROF, CPU_LIMIT)
    try:
        space, failed = notebook.namespace(w["subject"], (mutant.function, mutant.cell))
        if failed is not None:
            found.truth, found.why = "wrong", f"its cell raised {type(failed).__name__}: {failed}"[:300]
        else:
            said = truth.verdict(w["solution"], space, mutant.function, w["domains"], w["seed"])
            found.truth, found.why = ("equivalent" if said.equivalent else "wrong"), said.why
        space, _ = notebook.namespace(w["subject"], (mutant.function, mutant.cell))  # the grade starts afresh
        cells, mistakes = judge.grade(w["subject"], space, w["seeds"])
        found.points = {seed: judge.per_function(w["subject"], scores) for seed, scores in cells.items()}
        found.mistakes = mistakes
    except _OutOfTime:
        found.why = f"more than {CPU_LIMIT} s of CPU"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    found.seconds = time.monotonic() - started
    return found


def audit(root, name, seed=0, jobs=None, corpus_path=None, sample=None, operators=None, wall_limit=900):
    """(subject, [Judged]) of assignment name in the course at root, judged by jobs processes.

    sample: judge only a random sample of this many mutants, drawn from seed (quick runs);
    operators: judge only the mutants of these operators; wall_limit: seconds the whole run may take
    before the mutants not yet judged are counted as timeouts.
    """
    subject = subjects.load(root, name)
    truth.load_domains(root, subject.module)  # a missing declaration stops the run before any work
    found = mutate.mutants(subject, seed, corpus=subjects.corpus(root, subject, corpus_path))
    found = [m for m in found if not operators or m.operator in operators]
    if sample and sample < len(found):
        import random

        chosen = set(random.Random(f"sample:{seed}").sample(range(len(found)), sample))
        found = [m for index, m in enumerate(found) if index in chosen]
    seeds = grader_seeds(seed)
    jobs = jobs or os.cpu_count() or 1
    maxima = subject.maxima()
    context = multiprocessing.get_context("spawn")
    results = []
    deadline = time.monotonic() + wall_limit
    with context.Pool(jobs, initializer=_start, initargs=(str(root), name, seed, seeds)) as pool:
        pending = [pool.apply_async(judge_one, (mutant,)) for mutant in found]
        for mutant, waiting in zip(found, pending):
            try:
                judged = waiting.get(timeout=max(0.1, deadline - time.monotonic()))
            except multiprocessing.TimeoutError:
                judged = Judged(mutant, "unknown", f"not judged within the audit's {wall_limit} s")
            except Exception as error:  # the audit's own failure on one mutant: reported, not hidden
                raise GradingError(f"the audit failed on {mutant.key}: {error!r}") from error
            results.append(judged)
        pool.terminate()
    for judged in results:
        judged.verdict = rule(judged, maxima)
    return subject, results


def _cells_under(mutant, seed):
    """{grade_id: points} of one mutant under one grader's seed, in a worker set up by _start."""
    space, _ = notebook.namespace(_WORKER["subject"], (mutant.function, mutant.cell))
    cells, _ = judge.grade(_WORKER["subject"], space, [seed])
    return cells[seed]


def fast_cells(root, name, pairs, jobs=1):
    """[{grade_id: points}] of each (mutant, seed) in pairs, by the audit's fast path, in jobs worker processes."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(max(1, min(jobs, len(pairs))), initializer=_start, initargs=(str(root), name, 0, [])) as pool:
        return pool.starmap(_cells_under, pairs)
