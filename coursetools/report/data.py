"""The numbers of a class report, gathered in one pass over the gradebook and the grader's journal.

The gradebook (any nbgrader `db_url`) gives each submission's points per graded cell, streamed in
order of student, counted per part (`coursetools.course.parts`: the graded functions where the
assignment declares a checks module, its graded cells where it declares none); the journal
(`coursetools.journal`) gives what the grader found: the mistake of each function, the problems
of the submission and how long it took.  Only counts and a bounded number of examples are kept,
so a class of any size reports in memory of the size of its journal index (one offset per
submission), never of its notebooks.
"""
from array import array
from collections import Counter
from dataclasses import dataclass, field

from coursetools.course import cell_score
from coursetools.outcome import NO_DIAGNOSIS, Outcome

#: Rows fetched from the database at a time.
BATCH = 5000
#: Submissions with problems listed by name in the report (the rest are counted).
MAX_LISTED = 100
#: Stands for the mistake of a function that lost points in a submission the grader did not journal
#: (graded by stock `nbgrader autograde`, for example).
UNRECORDED = "unrecorded"
#: Stands for a part that lost points because a cell of it awaits a manual grade (the formgrader's).
MANUAL = "needs-manual-grade"
#: Stands for a part that is not a checked function (an assignment without a checks module, say) that lost
#: points in a journaled submission with no problem to blame: a failed test, an error, a blank answer.
NOT_CHECKED = "not-checked"


@dataclass
class ClassReport:
    """What the report shows of one assignment.

    functions: the parts points are counted in (the graded functions, or the graded cells of an
    assignment without a checks module: see unit), in notebook order; maximum: {part: max points}.
    unit: "function" or "cell"; checked: the parts that are checked functions (None: all of them).
    totals: Counter of total points; outcomes: {part: Counter of "full", "partial", "zero", and
    "manual" (a cell of it awaits a manual grade)}.
    mistakes: Counter of (function, mistake); messages: {(function, mistake): a message learners saw}.
    problems: Counter of problem kinds; troubled: up to MAX_LISTED (student, score, [texts]).
    seconds: grading time of each journaled submission; stages: {stage: seconds of each journaled submission
    that has both its stamps} (coursetools.outcome.STAGES); notebooks: {notebook: [points of all
    submissions, max points, submissions with full marks, submissions with 0]} of the graded notebooks.
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
    stages: dict = field(default_factory=dict)
    unit: str = "function"
    checked: frozenset = None
    notebooks: dict = field(default_factory=dict)

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
    """(student, notebook, cell, score, max score, needs manual grade) of every grade of assignment, ordered by
    student; streamed.  Grade cells and task cells alike, of every notebook."""
    from nbgrader.api import (Assignment, BaseCell, Grade, GradeCell, Notebook, SubmittedAssignment,
                              SubmittedNotebook, TaskCell)
    from sqlalchemy import func, select

    cells, grade_cells, task_cells = BaseCell.__table__, GradeCell.__table__, TaskCell.__table__
    query = (select(SubmittedAssignment.student_id, Notebook.name, cells.c.name, Grade.auto_score,
                    Grade.manual_score, Grade.extra_credit,
                    func.coalesce(grade_cells.c.max_score, task_cells.c.max_score), Grade.needs_manual_grade)
             .select_from(Grade)
             .join(cells, Grade.cell_id == cells.c.id)
             .outerjoin(grade_cells, grade_cells.c.id == cells.c.id)
             .outerjoin(task_cells, task_cells.c.id == cells.c.id)
             .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
             .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
             .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
             .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
             .where(Assignment.name == assignment)
             .order_by(SubmittedAssignment.student_id))
    with gradebook.engine.connect().execution_options(stream_results=True, yield_per=BATCH) as connection:
        for student, notebook, cell, auto, manual, extra, maximum, needs_manual in connection.execute(query):
            yield student, notebook, cell, cell_score(auto, manual, extra), maximum or 0.0, bool(needs_manual)


class _Student:
    """One submission's points per part and per notebook, and its parts awaiting a manual grade."""

    def __init__(self, student, names):
        self.student, self.scores, self.notebooks, self.manual = student, {n: [0.0, 0.0] for n in names}, {}, set()


def _per_student(rows, parts):
    """A _Student for each student of rows (of cell_scores, grouped by student); parts: coursetools.course.Parts."""
    current = None
    for student, notebook, cell, score, maximum, needs_manual in rows:
        if current is None or student != current.student:
            if current is not None:
                yield current
            current = _Student(student, parts.names)
        part = parts.part(notebook, cell)
        if part is None:
            continue  # a cell the source notebooks no longer have
        current.scores[part][0] += score
        current.scores[part][1] += maximum
        points = current.notebooks.setdefault(notebook, [0.0, 0.0])
        points[0] += score
        points[1] += maximum
        if needs_manual:
            current.manual.add(part)
    if current is not None:
        yield current


def gather(journal_path, gradebook, assignment, parts, each=None):
    """The ClassReport of assignment: gradebook (an nbgrader Gradebook) streamed, the journal read by offset.

    parts: the assignment's coursetools.course.Parts.  journal_path: the gradebook's journal
    (coursetools.journal.path_of).  each: called for every submission as each(student, total,
    {part: (score, max, mistake)}, outcome or None), to write per-submission rows as they go by.
    """
    index = journal_index(journal_path, assignment)
    names = list(parts.names)
    checked = None if parts.unit == "function" and set(names) <= parts.functions else parts.functions

    def fresh(maximum):
        return ClassReport(assignment, names, maximum, outcomes={f: Counter() for f in names}, unit=parts.unit,
                           checked=checked)

    report = None
    with open(journal_path, "rb") if index else open("/dev/null", "rb") as handle:
        for row in _per_student(cell_scores(gradebook, assignment), parts):
            if report is None:
                report = fresh({f: m for f, (_, m) in row.scores.items()})
            outcome = _outcome_at(handle, index[row.student]) if row.student in index else None
            found = add(report, row.student, row.scores, outcome, row.manual)
            for notebook, (score, maximum) in row.notebooks.items():
                counts = report.notebooks.setdefault(notebook, [0.0, maximum, 0, 0])
                counts[0] += score
                counts[2] += score >= maximum
                counts[3] += score <= 0
            if each is not None:
                each(row.student, sum(score for score, _ in row.scores.values()),
                     {f: (*row.scores[f], found.get(f)) for f in names}, outcome)
    return report or fresh({f: 0.0 for f in names})


def add(report, student, scores, outcome, manual=()):
    """Count one submission: its {part: [score, max]}, its journaled Outcome (or None), and the parts of
    which a cell awaits a manual grade (manual).

    Returns {part: the mistake it is counted under} for the parts that lost points.
    """
    report.submissions += 1
    total = sum(score for score, _ in scores.values())
    report.totals[round(total, 6)] += 1
    found_all = {}
    for function, (score, maximum) in scores.items():
        waits = function in manual and score < maximum
        result = "manual" if waits else "full" if score >= maximum else "zero" if score <= 0 else "partial"
        report.outcomes[function][result] += 1
        if waits:
            found = MANUAL
        elif outcome is None:  # not journaled: graded by stock nbgrader, say
            found = None if score >= maximum else UNRECORDED
        else:
            found = outcome.counted_under(function, score, maximum)
            if found == NO_DIAGNOSIS and report.checked is not None and function not in report.checked:
                found = NOT_CHECKED  # the grader's own call never ran on it: it has nothing to say
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
    for stage, seconds in outcome.stage_seconds().items():
        report.stages.setdefault(stage, array("d")).append(seconds)
    if outcome.problems:
        report.with_problems += 1
        report.problems.update(p.kind for p in outcome.problems)
        if len(report.troubled) < MAX_LISTED:
            report.troubled.append((student, total, outcome.texts()))
    return found_all
