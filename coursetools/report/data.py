"""The numbers of a class report, gathered in one pass over the gradebook and the grader's journal.

The gradebook (any nbgrader `db_url`) gives each submission's points per test cell, streamed in
order of student; the journal (`coursetools.grading.journal`) gives what the grader found: the
mistake of each function, the problems of the submission and how long it took.  Only counts and a
bounded number of examples are kept, so a class of any size reports in memory of the size of its
journal index (one offset per submission), never of its notebooks.
"""
import json
from array import array
from collections import Counter
from dataclasses import dataclass, field

from coursetools.course import function_of
from coursetools.grading import journal
from coursetools.grading.diagnoses import function_mistake

#: Rows fetched from the database at a time.
BATCH = 5000
#: Submissions with problems listed by name in the report (the rest are counted).
MAX_LISTED = 100
#: Stands for the mistake of a function that lost points in a submission the grader did not journal
#: (graded by stock `nbgrader autograde`, for example).
UNRECORDED = "unrecorded"


@dataclass
class ClassReport:
    """What the report shows of one assignment.

    functions: the graded functions, in notebook order; maximum: {function: max points}.
    totals: Counter of total points; outcomes: {function: Counter of "full", "partial", "zero"}.
    mistakes: Counter of (function, mistake); messages: {(function, mistake): a message learners saw}.
    problems: Counter of problem kinds; troubled: up to MAX_LISTED (student, score, [texts]).
    seconds: grading time of each journaled submission.
    """

    assignment: str
    functions: list
    maximum: dict
    submissions: int = 0
    journaled: int = 0
    with_problems: int = 0
    totals: Counter = field(default_factory=Counter)
    outcomes: dict = field(default_factory=dict)
    mistakes: Counter = field(default_factory=Counter)
    messages: dict = field(default_factory=dict)
    problems: Counter = field(default_factory=Counter)
    troubled: list = field(default_factory=list)
    seconds: array = field(default_factory=lambda: array("d"))

    @property
    def max_score(self):
        return sum(self.maximum.values())


def journal_index(root, assignment):
    """{student: offset of the journal's last line for them} for one assignment."""
    index, path = {}, journal.path_of(root)
    if not path.exists():
        return index
    with open(path, "rb") as lines:
        offset = 0
        for line in lines:
            try:
                record = json.loads(line)
                if record["assignment"] == assignment:
                    index[record["student"]] = offset
            except (ValueError, KeyError, TypeError):
                pass
            offset += len(line)
    return index


def _record_at(handle, offset):
    handle.seek(offset)
    try:
        record = json.loads(handle.readline())
        return record if isinstance(record, dict) else None
    except ValueError:
        return None


def cell_scores(gradebook, assignment):
    """(student, grade cell name, score, max score) of every grade of assignment, ordered by student; streamed."""
    from nbgrader.api import Assignment, Grade, GradeCell, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import select

    query = (select(SubmittedAssignment.student_id, GradeCell.name, Grade.auto_score, Grade.manual_score,
                    Grade.extra_credit, GradeCell.max_score)
             .join(GradeCell, Grade.cell_id == GradeCell.id)
             .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
             .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
             .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
             .where(Assignment.name == assignment, GradeCell.cell_type == "code")
             .order_by(SubmittedAssignment.student_id))
    with gradebook.engine.connect().execution_options(stream_results=True, yield_per=BATCH) as connection:
        for student, cell, auto, manual, extra, maximum in connection.execute(query):
            base = manual if manual is not None else auto
            yield student, cell, (base or 0.0) + (extra or 0.0), maximum or 0.0


def _per_student(rows, functions):
    """(student, {function: [score, max]}) for rows of cell_scores grouped by student."""
    current, scores = None, None
    for student, cell, score, maximum in rows:
        if student != current:
            if current is not None:
                yield current, scores
            current, scores = student, {f: [0.0, 0.0] for f in functions}
        try:
            function = function_of(cell, functions)
        except ValueError:
            continue  # a graded cell of no function (none in these assignments)
        scores[function][0] += score
        scores[function][1] += maximum
    if current is not None:
        yield current, scores


def gather(root, gradebook, assignment, functions, each=None):
    """The ClassReport of assignment: gradebook (an nbgrader Gradebook) streamed, the journal read by offset.

    each: called for every submission as each(student, total, {function: (score, max, mistake)},
    record), to write per-submission rows as they go by.
    """
    index = journal_index(root, assignment)
    report = None
    with open(journal.path_of(root), "rb") if index else open("/dev/null", "rb") as handle:
        for student, scores in _per_student(cell_scores(gradebook, assignment), functions):
            if report is None:
                report = ClassReport(assignment, functions, {f: m for f, (_, m) in scores.items()})
                report.outcomes = {f: Counter() for f in functions}
            record = _record_at(handle, index[student]) if student in index else None
            found = add(report, student, scores, record)
            if each is not None:
                each(student, sum(score for score, _ in scores.values()),
                     {f: (*scores[f], found.get(f)) for f in functions}, record)
    return report or ClassReport(assignment, functions, {f: 0.0 for f in functions},
                                 outcomes={f: Counter() for f in functions})


def add(report, student, scores, record):
    """Count one submission: its {function: [score, max]} and its journal record (or None).

    Returns {function: the mistake it is counted under} for the functions that lost points.
    """
    report.submissions += 1
    total = sum(score for score, _ in scores.values())
    report.totals[round(total, 6)] += 1
    mistakes = (record or {}).get("mistakes") or {}
    texts = [str(text) for text in (record or {}).get("problems") or []]
    kinds = (record or {}).get("faults") or []
    if len(kinds) != len(texts):  # a journal line of an older grader: problems without their kinds
        kinds = [UNRECORDED] * len(texts)
    problems = [{"kind": str(kind), "text": text} for kind, text in zip(kinds, texts)]
    found_all = {}
    for function, (score, maximum) in scores.items():
        outcome = "full" if score >= maximum else "zero" if score <= 0 else "partial"
        report.outcomes[function][outcome] += 1
        if record is None or "mistakes" not in record:  # not journaled, or by a grader that kept no mistakes
            found = None if score >= maximum else UNRECORDED
        else:
            found = function_mistake(score, maximum, mistakes, problems, function)
        if found:
            found_all[function] = found
            report.mistakes[(function, found)] += 1
            if (function, found) not in report.messages:
                message = (mistakes.get(function) or {}).get("message") or next(
                    (p["text"] for p in problems if p["kind"] == found), None)
                if message:
                    report.messages[(function, found)] = message
    if record is None:
        return found_all
    report.journaled += 1
    report.seconds.append(float(record.get("seconds") or 0.0))
    if problems:
        report.with_problems += 1
        report.problems.update(p["kind"] for p in problems)
        if len(report.troubled) < MAX_LISTED:
            report.troubled.append((student, total, [p["text"] for p in problems]))
    return found_all
