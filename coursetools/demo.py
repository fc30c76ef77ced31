"""The instructor pipeline on a sample class, end to end.

release -> sample submissions under submitted/ -> grade (coursetools.grading:
nbgrader's autograde pipeline in a sandbox) -> feedback (stock nbgrader) ->
grades.csv -> a table of each student's score per function -> the class report
(coursetools.report: what the class got wrong).
"""
import datetime
import time
from pathlib import Path

from coursetools.course import REPO, assignments, function_scores, nbgrader, parts, release
from coursetools.sample_class import CLASS, stamp_as_collected, write_submission


def grade(root, names):
    """Grade the named assignments with `coursetools.grading` (sandboxed, parallel); feedback with stock nbgrader."""
    from coursetools.grading.run import grade as grade_class

    started = time.perf_counter()
    print("\n".join(grade_class(root, names=names)))
    print(f"graded {', '.join(names)} in {time.perf_counter() - started:.1f} s")
    for name in names:
        nbgrader(root, "generate_feedback", name, "--force")
    print(f"wrote feedback for {', '.join(names)}")


def score_table(root, name, cases=()):
    """Lines of a table: one row per student, the score of each function (or graded cell) and the total.

    cases: the sample cases, so that each row can say whether it scored as expected.
    """
    assignment = next(a for a in assignments(root) if a.name == name)
    counted = parts(root, assignment)  # the graded functions; the graded cells where no checks module is declared
    functions = list(counted.names)
    cases = {case.student: case for case in cases}
    scores = function_scores(root, assignment, parts_=counted)
    width = max([len("student"), *map(len, scores)])
    lines = [f"{name}: points per {counted.unit}"]
    columns = {f: max(8, len(f)) for f in functions}
    header = f"  {'student':<{width}}  " + "  ".join(f"{f:>{columns[f]}}" for f in functions) + "     total"
    lines.append(header + ("  as expected" if cases else ""))
    for student in sorted(scores):
        row = scores[student]
        cells = "  ".join(f"{f'{row[f][0]:g}/{row[f][1]:g}':>{columns[f]}}" for f in functions)
        total = f"{sum(s for s, _ in row.values()):g}/{sum(m for _, m in row.values()):g}"
        line = f"  {student:<{width}}  {cells}  {total:>8}"
        if student in cases:
            expected = cases[student].expected({f: row[f][1] for f in functions})
            right = all(row[f][0] == expected[f] for f in functions)
            line += "  yes" if right else "  NO"
        lines.append(line)
    return lines


def demo(root=REPO):
    """Run the whole pipeline in root and print the grade tables."""
    root = Path(root)
    release(root)
    print("regenerated release/ and the learner notebooks")
    names = [a.name for a in assignments(root) if a.name in CLASS]
    collected = datetime.datetime.now(datetime.timezone.utc)
    for name in names:
        for case in CLASS[name]:
            stamp_as_collected(write_submission(root, case), collected)  # as nbgrader collect leaves them
        print(f"wrote {len(CLASS[name])} sample submissions of {name} under submitted/")
    grade(root, names)
    nbgrader(root, "export", "--to", "grades.csv")
    print(f"exported {root / 'grades.csv'}; feedback is under {root / 'feedback'}")
    for name in names:
        print()
        print("\n".join(score_table(root, name, CLASS[name])))
    from coursetools.report.cli import report

    print()
    folders = report(root, names)
    print(f"open the class reports in a browser: {', '.join(str(f / 'index.html') for f in folders)}")
