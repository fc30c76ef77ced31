"""The outcome of grading one submission: one typed, versioned record, from the worker to the report.

A worker grades a submission into a `Graded`: the `Outcome` (what the grader observed: the
problems of the submission, the mistake its own judging found in each function, timings) plus the
heavy part the writer saves (each notebook's grades, the autograded files).  The writer saves the
grades and completes the outcome with the points it wrote; the journal keeps one `Outcome` a line
(`to_json`); the class report reads them back (`from_json`).  Nothing else travels as a dict.

Everything in an outcome that a submission could influence (a student id, a file name) is made
printable and bounded where the outcome is made (`safe`); the kinds of problems and the mistakes
are the grader's own words, never text that the notebook's kernel printed.
"""
import json
import math
import re
from dataclasses import dataclass, field

#: The version of the journal line `to_json` writes; `from_json` also reads version 1 (no "version").
VERSION = 2
#: The longest text an outcome keeps from one problem.
MAX_TEXT = 400
#: The longest message a mistake keeps.
MAX_MESSAGE = 600
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

#: Every kind of problem, and what it means.
KINDS = {
    "too-large": "the submission folder held too many files or bytes: not graded",
    "left-out-files": "the submission held links or other files that are not regular files: left out",
    "bad-timestamp": "timestamp.txt was not a timestamp the grader understands: graded without one",
    "missing-notebook": "a notebook of the assignment was not in the submission",
    "broken-notebook": "nbgrader could not read or grade the notebook",
    "not-graded": "no grades came back for a notebook",
    "missing-cells": "the notebook lacked graded cells (deleted or renamed)",
    "notebook-timeout": "the notebook ran out of its time; later cells did not run",
    "cell-timeout": "a cell ran out of its time",
    "kernel-died": "the notebook's kernel died; later cells did not run",
    "kernel-unresponsive": "the kernel did not stop when interrupted; later cells did not run",
    "out-of-memory": "the sandbox's memory cgroup killed a process of the notebook",
    "output-limit": "a cell, or the notebook, sent more output than allowed",
    "tampered": "the tests passed in the notebook, but the grader's own call of the function failed",
    "worker-lost": "the grader's workers died on this submission every time it was tried",
    "grader-error": "the grader itself failed on this submission (a bug of ours): 0 points until it is fixed",
    "unrecorded": "a problem journaled by an older grader, without its kind",
}
#: The six moments of a submission's grading, in order (seconds since the epoch, each stamped by the
#: process that saw it: the client, then a worker, then the client): handed to the executor, started on
#: a worker, its first kernel ready for the first cell, its last cell done, judged (nbgrader's grades
#: and the grader's own call done), written to the gradebook.  Clocks of other hosts are assumed in step.
STAMPS = ("queued", "started", "kernel_ready", "cells_done", "judged", "written")
#: The stages between consecutive stamps: (name, from, to).
STAGES = (("waiting", "queued", "started"), ("setting-up", "started", "kernel_ready"),
          ("running-cells", "kernel_ready", "cells_done"), ("judging", "cells_done", "judged"),
          ("writing", "judged", "written"))
#: Problems that cost no points by themselves: a lost function is not counted under them.
FREE = ("left-out-files", "tampered", "bad-timestamp")
#: What a function that lost points is counted under when the grader found nothing to blame.
NO_DIAGNOSIS = "no-diagnosis"


def safe(text, limit=MAX_TEXT):
    """text with control characters (escape codes, newlines, bidirectional marks) shown as \\xNN, and cut to limit."""
    shown = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


@dataclass(frozen=True)
class Problem:
    """A problem of the whole submission: kind (one of KINDS) and the text the report shows."""

    kind: str
    text: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of problem {self.kind!r}")
        object.__setattr__(self, "text", safe(self.text))


@dataclass(frozen=True)
class Mistake:
    """What the grader's own judging found wrong with one function: a stable id and the grader's message."""

    id: str
    message: str

    def __post_init__(self):
        object.__setattr__(self, "id", safe(self.id, 100))
        object.__setattr__(self, "message", safe_lines(self.message))


def safe_lines(text, lines=8, limit=MAX_MESSAGE):
    """text's first lines, each made safe, at most limit characters in all."""
    kept = [safe(line.rstrip()) for line in str(text).splitlines() if line.strip()][:lines]
    return "\n".join(kept)[:limit]


@dataclass
class Outcome:
    """What grading one submission found and wrote: the journal's line, the report's input.

    score and max_score are what the writer committed (0 until then); gradebook names the
    database they went to; timestamp is the submission's (ISO 8601, UTC) or None; seed drew the
    cases of the grader's own call; timings are seconds per part of the worker's work (in kernels,
    in cells); stamps are the moments of STAMPS that were reached.
    """

    assignment: str
    student: str
    fingerprint: str
    gradebook: str = ""
    timestamp: str | None = None
    seed: int | None = None
    score: float = 0.0
    max_score: float = 0.0
    problems: list = field(default_factory=list)
    mistakes: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    seconds: float = 0.0
    stamps: dict = field(default_factory=dict)

    def add(self, kind, text):
        """Add a Problem of kind with text."""
        self.problems.append(Problem(kind, text))

    def texts(self):
        """The problems' texts, in order."""
        return [p.text for p in self.problems]

    def counted_under(self, function, scored, maximum):
        """What a function that scored less than maximum is counted under; None at full marks.

        The grader's own finding first, then the first problem of the submission that costs
        points, then NO_DIAGNOSIS.
        """
        if scored >= maximum:
            return None
        if function in self.mistakes:
            return self.mistakes[function].id
        costly = [p.kind for p in self.problems if p.kind not in FREE]
        return costly[0] if costly else NO_DIAGNOSIS

    def stage_seconds(self):
        """{stage: seconds} of each stage of STAGES whose two stamps are both there."""
        return {name: self.stamps[end] - self.stamps[begin] for name, begin, end in STAGES
                if begin in self.stamps and end in self.stamps}

    def to_dict(self):
        return {"version": VERSION, "assignment": self.assignment, "student": self.student,
                "fingerprint": self.fingerprint, "gradebook": self.gradebook, "timestamp": self.timestamp,
                "seed": self.seed, "score": self.score, "max_score": self.max_score,
                "problems": [[p.kind, p.text] for p in self.problems],
                "mistakes": {f: [m.id, m.message] for f, m in sorted(self.mistakes.items())},
                "timings": {k: round(v, 3) for k, v in self.timings.items()}, "seconds": round(self.seconds, 3),
                "stamps": {k: round(self.stamps[k], 3) for k in STAMPS if k in self.stamps}}

    def to_json(self):
        """One line of JSON (no newline in it)."""
        return json.dumps(self.to_dict(), ensure_ascii=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data):
        """The Outcome of a to_dict() (this version or version 1); ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("an outcome is a JSON object")
        if data.get("version", 1) == 1:
            data = _from_version_1(data)
        elif data.get("version") != VERSION:
            raise ValueError(f"an outcome of version {data.get('version')!r}")
        try:
            return cls(assignment=_text(data["assignment"]), student=_text(data["student"]),
                       fingerprint=_text(data["fingerprint"]), gradebook=_text(data.get("gradebook") or ""),
                       timestamp=None if data.get("timestamp") is None else _text(data["timestamp"]),
                       seed=None if data.get("seed") is None else int(data["seed"]),
                       score=_number(data.get("score", 0.0)), max_score=_number(data.get("max_score", 0.0)),
                       problems=[Problem(*_pair(p)) for p in data.get("problems") or []],
                       mistakes={_text(f): Mistake(*_pair(m)) for f, m in (data.get("mistakes") or {}).items()},
                       timings={_text(k): _number(v) for k, v in (data.get("timings") or {}).items()},
                       seconds=_number(data.get("seconds", 0.0)),
                       stamps={_stamp(k): _number(v) for k, v in (data.get("stamps") or {}).items()})
        except (KeyError, TypeError) as wrong:
            raise ValueError(f"not an outcome: {wrong!r}") from None

    @classmethod
    def from_json(cls, line):
        """The Outcome of one journal line; ValueError for anything else (a torn line, another format)."""
        return cls.from_dict(json.loads(line))


def _text(value):
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value):
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {value!r}")
    return float(value)


def _stamp(name):
    if name not in STAMPS:
        raise TypeError(f"unknown stamp {name!r}")
    return name


def percentiles(outcomes, shares=(50, 95)):
    """{stage: {share: seconds}}: the share-th percentile of each stage over the outcomes that have it."""
    found = {}
    for outcome in outcomes:
        for stage, seconds in outcome.stage_seconds().items():
            found.setdefault(stage, []).append(seconds)
    return stage_percentiles(found, shares)


def stage_percentiles(samples, shares=(50, 95)):
    """{stage: {share: seconds}} of samples, {stage: [seconds]}, in the order of STAGES.

    Nearest rank (the smallest value at or above share percent of them); stages with no sample are left out.
    """
    return {name: {share: _rank(sorted(samples[name]), share) for share in shares}
            for name, _, _ in STAGES if samples.get(name)}


def _rank(ordered, share):
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


def _pair(value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise TypeError("expected a pair")
    return _text(value[0]), _text(value[1])


def _from_version_1(line):
    """A journal line of the grader before outcomes: problems as texts with their kinds in faults."""
    texts, kinds = line.get("problems") or [], line.get("faults") or []
    if len(kinds) != len(texts) or any(kind not in KINDS for kind in kinds):
        kinds = ["unrecorded"] * len(texts)
    mistakes = {f: [m.get("mistake", ""), m.get("message", "")] for f, m in (line.get("mistakes") or {}).items()
                if isinstance(m, dict)}
    timings = {k[:-len("_seconds")]: v for k, v in line.items() if k.endswith("_seconds")}
    return {**line, "version": VERSION, "problems": [[k, t] for k, t in zip(kinds, texts)], "mistakes": mistakes,
            "timings": timings}


@dataclass
class NotebookGrades:
    """What nbgrader's autograde gave one notebook: its grade cells present (None: not graded),
    {grade cell: [auto score, needs manual grade]}, {cell: auto comment}, the late penalty."""

    graded: list | None = None
    grades: dict = field(default_factory=dict)
    comments: dict = field(default_factory=dict)
    late_penalty: float | None = None


@dataclass
class Graded:
    """A worker's answer for one submission: the outcome, {notebook: NotebookGrades}, and the
    autograded folder ({relative path: bytes}) the writer puts under autograded/."""

    outcome: Outcome
    notebooks: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
