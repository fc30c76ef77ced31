"""`python -m coursetools grade` (and `make grade`): options in, summary out; the only place errors become exit codes."""
import sys

from coursetools import sandbox
from coursetools.course import REPO
from coursetools.errors import GradingError
from coursetools.grading.execute import NOTEBOOK_TIMEOUT


def add_arguments(parser):
    """The options of `python -m coursetools grade`."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repository)")
    parser.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="submissions at once on this machine (default: number of cores); not with --scheduler")
    parser.add_argument("--scheduler", help="grade on the Dask cluster of this scheduler, e.g. tls://host:8786")
    parser.add_argument("--tls-ca-file", help="the CA certificate of a TLS cluster")
    parser.add_argument("--tls-cert", help="this client's certificate for a TLS cluster")
    parser.add_argument("--tls-key", help="this client's private key for a TLS cluster")
    parser.add_argument("--db", help="the gradebook's database URL (default: CourseDirectory.db_url of "
                                     "nbgrader_config.py, else gradebook.db), e.g. postgresql+psycopg://host/course")
    parser.add_argument("--force", action="store_true", help="grade again what the journal says is graded")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run students' code with your own rights, no sandbox: only for work you trust")
    parser.add_argument("--cold-kernels", action="store_true",
                        help="start every kernel afresh, not forked from a worker's warm process (slower; a control)")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT, help="seconds per notebook")
    parser.add_argument("--memory-mb", type=int, default=sandbox.LIMITS["memory"] // sandbox.MiB,
                        help="address space of each sandboxed process, MiB")
    parser.add_argument("--total-memory-mb", type=int, default=sandbox.LIMITS["total_memory"] // sandbox.MiB,
                        help="resident memory of all of one sandbox's processes together, MiB (needs a cgroup)")
    parser.add_argument("--processes", type=int, default=sandbox.LIMITS["processes"],
                        help="processes and threads of one sandbox")


def security(arguments):
    """A distributed Security for the TLS options, or None without them."""
    files = (arguments.tls_ca_file, arguments.tls_cert, arguments.tls_key)
    if not any(files):
        return None
    if not all(files):
        raise GradingError("a TLS cluster needs all three of --tls-ca-file, --tls-cert and --tls-key")
    from distributed.security import Security

    return Security(tls_ca_file=files[0], tls_client_cert=files[1], tls_client_key=files[2], require_encryption=True)


def main(arguments):
    """Run `grade` from parsed arguments, print its summary; exit 1 on a GradingError, 130 when interrupted."""
    from coursetools.grading.run import Interrupted, grade

    try:
        if arguments.scheduler and arguments.jobs:
            raise GradingError("--jobs is for this machine; a cluster's workers decide how many submissions at once")
        lines = grade(arguments.root, names=arguments.assignment, jobs=arguments.jobs,
                      sandboxed=not arguments.unsandboxed, force=arguments.force, students=arguments.student,
                      cell_timeout=arguments.cell_timeout, notebook_timeout=arguments.notebook_timeout,
                      limits={"memory": arguments.memory_mb * sandbox.MiB, "processes": arguments.processes,
                              "total_memory": arguments.total_memory_mb * sandbox.MiB,
                              "cpu": max(sandbox.LIMITS["cpu"], arguments.notebook_timeout + 60)},
                      db_url=arguments.db, scheduler=arguments.scheduler, security=security(arguments),
                      warm=not arguments.cold_kernels)
    except Interrupted as stopped:
        print(f"\n{stopped}", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("\ninterrupted before grading began", file=sys.stderr)
        sys.exit(130)
    except GradingError as problem:
        message = str(problem)
        if "bubblewrap" in message:
            message = (f"Cannot grade untrusted work safely: {message}.\nInstall bubblewrap (`apt-get install "
                       "bubblewrap`, or `make grade` as root), or, only for work you trust, pass --unsandboxed to run "
                       "students' code with your own rights.")
        print(f"make grade: {message}", file=sys.stderr)
        sys.exit(1)
    print("\n".join(lines))
