"""`python -m coursetools report` (and `make report`): the class report of each assignment.

For each assignment it writes `reports/<assignment>/index.html`, `functions.csv`,
`mistakes.csv` and `submissions.csv` (one row per submission: points, and the mistake each
function is counted under).  An assignment that declares no checks module (any nbgrader
assignment: several notebooks, manually graded cells) is counted per graded cell instead of per
function (`coursetools.course.parts`), and its page says so.  Errors become exit codes here only.
"""
import csv
import sys
from pathlib import Path

from coursetools.course import REPO, assignments, parts, settings
from coursetools.errors import GradingError


def add_arguments(parser):
    """The options of `python -m coursetools report`, named as `grade` names them."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repository)")
    parser.add_argument("--assignment", action="append", help="report only this assignment (repeatable)")
    parser.add_argument("--db", help="the gradebook's database URL (default: CourseDirectory.db_url of "
                                     "nbgrader_config.py, else gradebook.db)")


def report(root=REPO, names=None, db_url=None, stream=None):
    """Write the reports of the named assignments (all by default); return the folders written."""
    from coursetools.journal import path_of
    from coursetools.gradebook import open_gradebook, shown_url
    from coursetools.report.data import gather
    from coursetools.report.page import csv_row, write_csvs, write_page

    root = Path(root).resolve()
    chosen = [a for a in assignments(root) if names is None or a.name in names]
    if names is not None and len(chosen) != len(set(names)):
        raise GradingError(f"no such assignment: {sorted(set(names) - {a.name for a in chosen})}")
    course_id, db_url = settings(root, db_url)
    gradebook = open_gradebook(db_url, course_id)
    written = []
    try:
        for assignment in chosen:
            counted = parts(root, assignment)
            functions = list(counted.names)
            folder = root / "reports" / assignment.name
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "submissions.csv", "w", newline="") as out:
                rows = csv.writer(out)
                rows.writerow(["student", "points", "max_points", "seconds", "problems",
                               *[f"{f}_points" for f in functions], *[f"{f}_mistake" for f in functions]])

                def each(student, total, per_function, outcome):
                    rows.writerow(csv_row([student, f"{total:g}", f"{sum(m for _, m, _ in per_function.values()):g}",
                                           f"{outcome.seconds:g}" if outcome else "",
                                           " ".join(p.kind for p in outcome.problems) if outcome else "",
                                           *[f"{per_function[f][0]:g}" for f in functions],
                                           *[per_function[f][2] or "" for f in functions]]))

                data = gather(path_of(root, db_url), gradebook, assignment.name, counted, each)
            write_csvs(data, folder)
            write_page(data, folder, shown_url(db_url))
            written.append(folder)
            per = "" if counted.unit == "function" else " (no checks module: counted per graded cell)"
            print(f"report of {assignment.name} ({data.submissions} submissions){per}: {folder / 'index.html'}",
                  file=stream or sys.stdout)
    finally:
        gradebook.close()
    return written


def main(arguments):
    """Run `report` from parsed arguments; exit 1 on a GradingError."""
    try:
        report(arguments.root, arguments.assignment, arguments.db)
    except GradingError as problem:
        print(f"make report: {problem}", file=sys.stderr)
        sys.exit(1)
