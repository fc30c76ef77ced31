"""`python -m coursetools audit` (and `make audit`): options in, a summary out; the only place its errors
become exit codes (0: every mutant meets the rule; 1: some break it, or the audit could not run)."""
import sys
import time

from coursetools.course import REPO, assignments
from coursetools.errors import GradingError


def add_arguments(parser):
    """The options of `python -m coursetools audit`."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repository)")
    parser.add_argument("--assignment", action="append", help="audit only this assignment (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of cores)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the higher-order mutants, the truth's "
                                                            "inputs and the grader's seeds (default 0)")
    parser.add_argument("--sample", type=int, default=None, help="judge only a random sample of SAMPLE mutants of each "
                                                                 "assignment (drawn from the seed)")
    parser.add_argument("--operator", action="append", help="judge only the mutants of this operator (repeatable)")
    parser.add_argument("--agree", type=int, default=0, metavar="N",
                        help="also grade a random sample of N mutants per assignment with `make grade` (sandboxed) "
                             "and compare cell by cell")
    parser.add_argument("--corpus", default=None, help="a corpus module with corpus() (default: tests/corpus.py)")


def audit_one(arguments, name):
    """Audit one assignment, write its report; return (lines, rule broken?)."""
    from collections import Counter

    from coursetools.audit import agree, report, run

    started = time.monotonic()
    subject, results = run.audit(arguments.root, name, arguments.seed, arguments.jobs, arguments.corpus,
                                 arguments.sample, arguments.operator)
    seconds = time.monotonic() - started
    verdicts = Counter(j.verdict for j in results)
    settings = {"command": " ".join(sys.argv), "seed": arguments.seed, "grader seeds": run.grader_seeds(arguments.seed),
                "jobs": arguments.jobs, "seconds": f"{seconds:.1f}", "CPU limit per mutant (s)": run.CPU_LIMIT}
    lines = [f"{name}: {len(results)} mutants in {seconds:.0f} s: "
             + ", ".join(f"{v} {verdicts[v]}" for v in sorted(verdicts))]
    broken = [j for j in results if j.verdict in run.BREAKS]
    for judged in broken:
        lines.append(f"  {judged.verdict}: {judged.mutant.function} {judged.mutant.operator} "
                     f"({judged.mutant.change}), line {judged.mutant.line}; truth {judged.truth} {judged.why}")
    disagree = []
    if arguments.agree:
        rows = agree.agree(arguments.root, name, agree.sample(results, arguments.agree, arguments.seed),
                           arguments.jobs or 2)
        disagree = [row for row in rows if not row[4]]
        settings["make grade agreement"] = f"{len(rows) - len(disagree)} of {len(rows)} sampled mutants agree cell by cell"
        lines.append(f"  make grade: {settings['make grade agreement']}")
        lines += [f"  disagrees: {row[1]} (seed {row[2]}): {row[3]}" for row in disagree]
    folder = report.write(arguments.root, subject, results, settings)
    lines.append(f"  report: {folder / 'index.html'}")
    return lines, bool(broken or disagree)


def main(arguments):
    """Run `audit` from parsed arguments; exit 1 when any mutant breaks the rule or on a GradingError."""
    try:
        names = arguments.assignment or [a.name for a in assignments(arguments.root)]
        failed = False
        for name in names:
            lines, broken = audit_one(arguments, name)
            print("\n".join(lines), flush=True)
            failed = failed or broken
    except GradingError as problem:
        print(f"make audit: {problem}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(1 if failed else 0)
