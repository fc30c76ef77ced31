"""Command line: python -m coursetools {release,demo,table,grade,report,check,audit}."""
import argparse
import sys

from coursetools.audit import cli as audit_cli
from coursetools.check import check
from coursetools.course import REPO, assignments, release
from coursetools.demo import demo, score_table
from coursetools.grading import cli as grading_cli
from coursetools.report import cli as report_cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", help="regenerate release/ and the top-level learner notebooks")
    commands.add_parser("demo", help="release, grade a sample class, write feedback and grades.csv, print scores")
    commands.add_parser("table", help="print each student's points per function from the gradebook")
    grading = commands.add_parser("grade", help="grade every collected submission: sandboxed, parallel, resumable")
    grading_cli.add_arguments(grading)
    reporting = commands.add_parser("report", help="write reports/<assignment>/index.html and CSVs: what the class "
                                                   "got wrong")
    report_cli.add_arguments(reporting)
    auditing = commands.add_parser("audit", help="mutants of every graded function, judged by the truth and by the "
                                                 "grader; exit 1 if any grade is unfair")
    audit_cli.add_arguments(auditing)
    checking = commands.add_parser("check", help="run a notebook's visible tests; exit 1 if any fails")
    checking.add_argument("notebook", help="the notebook to check, e.g. 1-Backpropagation.ipynb")
    arguments = parser.parse_args(argv)
    if arguments.command == "release":
        release(REPO)
    elif arguments.command == "check":
        sys.exit(check(arguments.notebook))
    elif arguments.command == "grade":
        grading_cli.main(arguments)
    elif arguments.command == "audit":
        audit_cli.main(arguments)
    elif arguments.command == "report":
        report_cli.main(arguments)
    elif arguments.command == "demo":
        demo(REPO)
    else:
        for assignment in assignments(REPO):
            print("\n".join(score_table(REPO, assignment.name)))


if __name__ == "__main__":
    main()
