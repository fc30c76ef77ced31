"""Running the grader as `make grade` runs it, and reading what it wrote: helpers of the grading tests."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import REPO

from coursetools.course import assignments, nbgrader
from coursetools.sample_class import Case

PYTHON_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
# Small limits keep the endless loops short; the memory and process limits are the defaults.
FAST = ["--cell-timeout", "8", "--notebook-timeout", "40"]


def run_grader(course, *args, env=None, **kwargs):
    """`python -m coursetools grade` on course, as make grade runs it."""
    return subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(course), *args],
                          cwd=REPO, capture_output=True, text=True, env=env or {**os.environ, "PATH": PYTHON_PATH},
                          **kwargs)


def in_front_of_J_b1(student, code):
    """The full solution with code run at the top of the J_b1 cell."""
    return Case(student, "backprop", (("J_b1", "def J_b1(x, y):", code + "\ndef J_b1(x, y):"),), ("J_b1",))


#: A submission that passes only inside the sandbox: no root, no network, its own PID namespace.
PROBE = in_front_of_J_b1("sandbox-probe", "\n".join([
    "import os, socket",
    "assert os.getuid() != 0 and os.geteuid() != 0 and os.getgid() != 0",
    "assert [name for _, name in socket.if_nameindex()] == ['lo']",
    "assert len([p for p in os.listdir('/proc') if p.isdigit()]) < 10",
    "assert not os.path.exists(os.path.expanduser('~root/.bashrc'))",
    "open('scratch.txt', 'w').write('the scratch folder is writable')",
]))
PROBE = Case(PROBE.student, PROBE.assignment, PROBE.edits, ())

#: Code that makes IPython run every later cell that mentions the checks as `pass`: no test can fail.
SKIP_TESTS = ("get_ipython().input_transformers_cleanup.append(\n"
              "    lambda lines: ['pass\\n'] if 'checking' in ''.join(lines) else lines)\n\n")


def gradebook_cells(db_url):
    """Every grade and comment of a gradebook, any database: {(assignment, student, notebook, cell): values}."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(db_url, "calculus-for-ml") as gradebook:
        for assignment in gradebook.assignments:
            for submission in gradebook.assignment_submissions(assignment.name):
                for notebook in submission.notebooks:
                    key = (assignment.name, submission.student_id, notebook.name)
                    for grade in notebook.grades:
                        found[(*key, grade.name)] = (grade.auto_score, grade.needs_manual_grade)
                    for comment in notebook.comments:
                        found[(*key, "comment:" + comment.name)] = comment.auto_comment
    return found


def cell_error_names(course, student, grade_id):
    """The names of the errors a cell of the autograded notebook shows."""
    path = course / "autograded" / student / "backprop" / "1-Backpropagation.ipynb"
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return {output.get("ename") for output in cell.get("outputs", []) if output.output_type == "error"}


def prepared_postgres(course, url):
    """The course's assignments generated into the PostgreSQL gradebook at url, with stock nbgrader."""
    for assignment in assignments(course):
        nbgrader(course, "generate_assignment", assignment.name, "--force", "--db", url)
    return url


def alive(pid):
    """Whether the process pid (a string of digits, from a folder's or cgroup's name) still runs."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
