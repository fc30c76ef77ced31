"""The numbers of a class report, gathered in one pass over the gradebook and the grader's journal.

The gradebook (any nbgrader `db_url`) gives each submission's points per test cell, streamed in
order of student; the journal (`coursetools.journal`) gives what the grader found: the
mistake of each function, the problems of the submission and how long it took.  Only counts and a
bounded number of examples are kept, so a class of any size reports in memory of the size of its
journal index (one offset per submission), never of its notebooks.
"""
from array import array
from collections import Counter
from dataclasses import dataclass, field

from coursetools.course import cell_score, function_of
from coursetools.outcome import Outcome

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


def journal_index(path, assignment):
    """{student: offset of the last line for them} of the journal at path, for one assignment."""
    index = {}
    if not path.is_file():
        return index
    with open(path, "rb") as lines:
        offset = 0
        for line in lines:
            try:
                outcome = Outcome.from_json(line)
                if outcome.assignment == assignment:
                    index[outcome.student] = offset
            except ValueError:
                pass
            offset += len(line)
    return index


def _outcome_at(handle, offset):
    handle.seek(offset)
    try:
        return Outcome.from_json(handle.readline())
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
            yield student, cell, cell_score(auto, manual, extra), maximum or 0.0


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


def gather(journal_path, gradebook, assignment, functions, each=None):
    """The ClassReport of assignment: gradebook (an nbgrader Gradebook) streamed, the journal read by offset.

    journal_path: the gradebook's journal (coursetools.journal.path_of).  each: called for
    every submission as each(student, total, {function: (score, max, mistake)}, outcome or None),
    to write per-submission rows as they go by.
    """
    index = journal_index(journal_path, assignment)
    report = None
    with open(journal_path, "rb") if index else open("/dev/null", "rb") as handle:
        for student, scores in _per_student(cell_scores(gradebook, assignment), functions):
            if report is None:
                report = ClassReport(assignment, functions, {f: m for f, (_, m) in scores.items()})
                report.outcomes = {f: Counter() for f in functions}
            outcome = _outcome_at(handle, index[student]) if student in index else None
            found = add(report, student, scores, outcome)
            if each is not None:
                each(student, sum(score for score, _ in scores.values()),
                     {f: (*scores[f], found.get(f)) for f in functions}, outcome)
    return report or ClassReport(assignment, functions, {f: 0.0 for f in functions},
                                 outcomes={f: Counter() for f in functions})


def add(report, student, scores, outcome):
    """Count one submission: its {function: [score, max]} and its journaled Outcome (or None).

    Returns {function: the mistake it is counted under} for the functions that lost points.
    """
    report.submissions += 1
    total = sum(score for score, _ in scores.values())
    report.totals[round(total, 6)] += 1
    found_all = {}
    for function, (score, maximum) in scores.items():
        result = "full" if score >= maximum else "zero" if score <= 0 else "partial"
        report.outcomes[function][result] += 1
        if outcome is None:  # not journaled: graded by stock nbgrader, say
            found = None if score >= maximum else UNRECORDED
        else:
            found = outcome.counted_under(function, score, maximum)
        if found:
            found_all[function] = found
            report.mistakes[(function, found)] += 1
            if (function, found) not in report.messages:
                mistake = outcome.mistakes.get(function) if outcome is not None else None
                message = mistake.message if mistake is not None else next(
                    (p.text for p in (outcome.problems if outcome else ()) if p.kind == found), None)
                if message:
                    report.messages[(function, found)] = message
    if outcome is None:
        return found_all
    report.journaled += 1
    report.seconds.append(outcome.seconds)
    if outcome.problems:
        report.with_problems += 1
        report.problems.update(p.kind for p in outcome.problems)
        if len(report.troubled) < MAX_LISTED:
            report.troubled.append((student, total, outcome.texts()))
    return found_all
