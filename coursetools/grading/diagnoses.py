"""What went wrong with a submission, as data: problems of the whole submission and mistakes per function.

A *problem* is {"kind": identifier, "text": what the report says}; its kind is one of KINDS.
A *mistake* is what the grader's own call of a learner's function found, the identifier that
the checks module put on its `CheckFailed` ("J_b3/sigma-for-d_sigma", "dfdsig/unrecognised")
with the message a learner reads.  The grader records both in its journal
(`coursetools.grading.journal`); the class report (`coursetools.report`) counts them.
"""
from coursetools.grading.journal import safe

#: Every kind of problem, and what it means.
KINDS = {
    "too-large": "the submission folder held too many files or bytes: not graded",
    "left-out-files": "the submission held links or other files that are not regular files: left out",
    "missing-notebook": "a notebook of the assignment was not in the submission",
    "broken-notebook": "nbgrader could not read or grade the notebook",
    "not-graded": "no grades came back for a notebook",
    "missing-cells": "the notebook lacked graded cells (deleted or renamed)",
    "notebook-timeout": "the notebook ran out of its time; later cells did not run",
    "cell-timeout": "a cell ran out of its time",
    "kernel-died": "the notebook's kernel died; later cells did not run",
    "kernel-unresponsive": "the kernel did not stop when interrupted; later cells did not run",
    "out-of-memory": "the notebook's processes passed their memory limit",
    "process-limit": "the notebook tried to start more processes than allowed",
    "output-limit": "a cell, or the notebook, sent more output than allowed",
    "tampered": "the tests passed in the notebook, but the grader's own call of the function failed",
    "worker-lost": "the grader's workers died on this submission every time it was tried",
}
#: What a check that names no cause puts on its failure (as "<function>/unrecognised").
UNRECOGNISED = "unrecognised"
#: A function that lost points in the notebook while the grader recorded no mistake for it and its
#: submission had no problem to blame (its own call found the answers right).
NO_DIAGNOSIS = "no-diagnosis"
#: The longest message a mistake keeps.
MAX_MESSAGE = 600


def problem(kind, text):
    """A problem of kind (one of KINDS) with its text, made safe to print."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of problem {kind!r}")
    return {"kind": kind, "text": safe(text)}


def mistake(failed):
    """{"mistake": identifier, "message": its lines} of a failed check (an AssertionError).

    Each line of the message is made safe; there are at most 8 of them, of MAX_MESSAGE characters in all.
    """
    lines = [safe(line.rstrip()) for line in str(failed).splitlines() if line.strip()][:8]
    identifier = getattr(failed, "mistake", None)
    if not isinstance(identifier, str):
        identifier = UNRECOGNISED
    return {"mistake": safe(identifier, 100), "message": "\n".join(lines)[:MAX_MESSAGE]}


def diagnose(got, judge):
    """{function: mistake()} of each function whose answers the judge rejects.

    got: {function: [cases, answers or None]}, what the grader's cells reported; judge(function,
    case, answer) raises AssertionError for a wrong answer.  A function that reported no answers
    is left out: its submission's problems say why.
    """
    found = {}
    for function, (cases, answers) in sorted(got.items()):
        if not isinstance(answers, list) or len(answers) != len(cases):
            continue
        for case, answer in zip(cases, answers):
            try:
                judge(function, case, answer)
            except AssertionError as failed:
                found[function] = mistake(failed)
                break
    return found


def function_mistake(scored, maximum, mistakes, problems, function):
    """The mistake a function that scored less than maximum is counted under; None if it scored full marks.

    mistakes: the record's {function: mistake()}; problems: its [problem()].  The grader's own
    finding comes first, then the first problem of the submission that costs points, then
    NO_DIAGNOSIS.
    """
    if scored >= maximum:
        return None
    if function in mistakes:
        return mistakes[function]["mistake"]
    costly = [p["kind"] for p in problems if p["kind"] not in ("left-out-files", "tampered")]
    return costly[0] if costly else NO_DIAGNOSIS
