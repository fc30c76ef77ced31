"""Grade a whole class: sandboxed, parallel, resumable (`make grade`, `python -m coursetools grade`).

Design
------
* The parent process finds every submission under submitted/<student>/<assignment>/,
  skips those the journal (autograded/.grade-journal.jsonl) says are graded with
  the same files, and hands the rest to N worker processes.
* A worker grades one submission with nbgrader's own `Autograde` converter and
  its stock preprocessors, in a private temporary course: the course's
  nbgrader_config.py, the assignment's non-notebook source files, a copy of the
  gradebook with the assignment's cells and no students, and a copy of the
  submission (regular files only).  The only change to the pipeline is the
  `Execute` preprocessor, replaced by `GuardedExecute`: the same, plus a
  per-notebook time limit, a per-cell output limit, a kernel that dies costing
  the cells it did not run (not the whole submission), and the kernel started
  in the bubblewrap sandbox of `coursetools.sandbox` over Jupyter's `ipc`
  transport.  Scores therefore are stock nbgrader's, cell by cell.
* The parent is the only writer of gradebook.db: it copies each result's grades
  and comments into it, copies the autograded notebook (regular files only) to
  autograded/<student>/<assignment>/, and then appends a line to the journal.
  Writing grades is idempotent, so a run killed at any point and run again
  finishes the class with nothing lost or counted twice.
"""
import asyncio
import contextlib
import ctypes
import glob
import hashlib
import importlib
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from datetime import datetime
from pathlib import Path

from coursetools import sandbox
from coursetools.course import REPO, assignments

JOURNAL = ".grade-journal.jsonl"
NOTEBOOK_TIMEOUT = 600
MAX_OUTPUT_BYTES = 8 * 2 ** 20


class SandboxUnavailable(RuntimeError):
    pass


# ----------------------------------------------------------------------------- kernel side (in workers)

def _kernel_classes():
    """The kernel manager and Execute preprocessor; defined lazily so that the parent need not import nbgrader."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import ensure_async
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat.notebooknode import NotebookNode
    from nbgrader.preprocessors import Execute
    from traitlets import Integer

    class SandboxedKernelManager(AsyncKernelManager):
        """A kernel in the sandbox: `ipc` sockets in a private folder, the launcher in front of ipykernel."""

        options = {}  # set by the worker: launcher arguments

        async def _async_pre_start_kernel(self, **kw):
            self._private = tempfile.mkdtemp(prefix="k", dir=self.options["work"])
            self.transport = "ipc"
            self.ip = os.path.join(self._private, "kernel")
            self.connection_file = os.path.join(self._private, "connection.json")
            return await super()._async_pre_start_kernel(**kw)

        pre_start_kernel = _async_pre_start_kernel

        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            return [sys.executable, sandbox.__file__, "--private", self._private, *self.options["args"], "--", *command]

        async def interrupt_kernel(self):
            # A signal cannot reach the kernel in its PID namespace; ipykernel's interrupt message can.
            if self.has_kernel:
                self._connect_control_socket()
                self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

        async def _async_cleanup_resources(self, restart=False):
            await super()._async_cleanup_resources(restart)
            if not restart:
                shutil.rmtree(self._private, ignore_errors=True)
            sandbox.remove_orphaned_caps()

        cleanup_resources = _async_cleanup_resources

    class GuardedExecute(Execute):
        """nbgrader's Execute, bounded: whatever a notebook does, it ends and the cells it ran keep their results."""

        notebook_timeout = Integer(NOTEBOOK_TIMEOUT, help="seconds for the whole notebook").tag(config=True)
        max_output_bytes = Integer(MAX_OUTPUT_BYTES, help="output one cell may send").tag(config=True)
        sandboxed = False
        problems = []  # what went wrong, for the report; the worker empties it

        def __init__(self, *args, **kwargs):
            if self.sandboxed:
                kwargs["kernel_manager_class"] = SandboxedKernelManager
            super().__init__(*args, **kwargs)

        timings = {"kernel": 0.0, "cells": 0.0}  # seconds starting and stopping kernels, running cells
        seed = None  # set by the worker: the grader's own calls of the functions draw their cases from it
        answers = {}  # {function: (checks module, cases, answers)} that those calls reported; the worker empties it

        def preprocess(self, nb, resources=None, km=None):
            self._deadline = time.monotonic() + self.notebook_timeout
            self._stopped = None
            started, cells = time.monotonic(), self.timings["cells"]
            added = _add_answer_cells(nb, self.seed) if self.seed is not None else {}
            try:
                return super().preprocess(nb, resources, km)
            finally:
                self.timings["kernel"] += time.monotonic() - started - (self.timings["cells"] - cells)
                self.answers.update(_take_answer_cells(nb, added))

        def _get_timeout(self, cell):
            timeout = super()._get_timeout(cell)
            remaining = max(1, int(self._deadline - time.monotonic()) + 1)
            return remaining if timeout is None else min(timeout, remaining)

        @staticmethod
        def _error(cell, name, message):
            cell.outputs.append(NotebookNode(output_type="error", ename=name, evalue=message,
                                             traceback=[f"{name}: {message}"]))

        def _name(self, cell, index):
            if "coursetools_answers" in cell.metadata:
                return f"the grader's call of {cell.metadata['coursetools_answers']}"
            return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code" or not cell.source.strip():
                return cell, resources
            if self._stopped is None and time.monotonic() >= self._deadline:
                self._stopped = f"the notebook ran out of its {self.notebook_timeout} s"
                self.problems.append(f"{self._stopped} at {self._name(cell, index)}; later cells not run")
            if self._stopped:
                cell.outputs = []
                self._error(cell, "NotRun", self._stopped)
                return cell, resources
            self._cell_bytes, self._flooded = 0, False
            started = time.monotonic()
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self._stopped = "the kernel died" + self._exit_status()
                self.problems.append(f"{self._stopped} in {self._name(cell, index)}; later cells not run")
                self._error(cell, "DeadKernelError", self._stopped)
                return cell, resources
            except CellTimeoutError:  # it timed out and an interrupt did not stop it
                self._stopped = "the kernel did not stop when interrupted"
                self.problems.append(f"{self._name(cell, index)} timed out and {self._stopped}; later cells not run")
                self._error(cell, "CellTimeoutError", self._stopped)
                return cell, resources
            finally:
                self.timings["cells"] += time.monotonic() - started
            if self._flooded:
                self._error(cell, "OutputLimitExceeded", f"more than {self.max_output_bytes} bytes of output")
                self.problems.append(f"{self._name(cell, index)} sent more than {self.max_output_bytes} bytes of output")
            return cell, resources

        def _exit_status(self):
            try:
                code = self.km.provisioner.process.poll()
            except Exception:
                return ""
            if code is None:
                return ""
            if code == sandbox.OUT_OF_MEMORY:
                return " (out of memory: the sandbox's processes together passed its memory limit)"
            if code < 0 or code > 128:
                number = -code if code < 0 else code - 128
                with contextlib.suppress(ValueError):
                    return f" ({signal.Signals(number).name})"
            return f" (exit status {code})"

        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)
            content = kwargs["execute_reply"]["content"]
            if content.get("status") != "error":
                return
            name, value = content.get("ename", ""), str(content.get("evalue", ""))
            why = ("timed out" if name == "CellTimeoutError"
                   else "hit the memory limit (MemoryError)" if name == "MemoryError"
                   else f"hit the process limit ({name})" if "Resource temporarily unavailable" in value
                   else None)
            if why:
                self.problems.append(f"{self._name(kwargs['cell'], kwargs['cell_index'])} {why}")

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] != "error":
                content = msg["content"]
                self._cell_bytes += len(content.get("text", "")) + sum(
                    len(value) if isinstance(value, str) else len(json.dumps(value))
                    for value in content.get("data", {}).values())
                if self._cell_bytes > self.max_output_bytes:
                    if not self._flooded:
                        self._flooded = True
                        asyncio.ensure_future(ensure_async(self.km.interrupt_kernel()))
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return SandboxedKernelManager, GuardedExecute


# ----------------------------------------------------------------------------- the grader's own check

CHECKS_MODULE = re.compile(r"""import_module\(["'](readonly\.\w+_checks)["']\)""")


def _add_answer_cells(nb, seed):
    """Put, after the last test cell of each graded function, a cell that reports the function's answers.

    The cell calls readonly.checking.print_answers on the cases the checks module's grader_cases
    draws from seed.  Returns {function: (module, cases)} for the cells added.
    """
    from nbformat.v4 import new_code_cell

    from coursetools.course import function_of, graded_functions

    functions = graded_functions(nb)
    last, module = {}, None
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.startswith("test_") and cell.cell_type == "code":
            with contextlib.suppress(ValueError):
                last[function_of(grade_id, functions)] = index
                module = module or next((m.group(1) for m in CHECKS_MODULE.finditer(cell.source)), None)
    if module is None:
        return {}
    cases = importlib.import_module(module).grader_cases(seed)
    added = {}
    for function, index in sorted(last.items(), key=lambda item: -item[1]):
        if function in cases:
            source = (f"import importlib as _grader_importlib\n_grader_importlib.import_module('readonly.checking')"
                      f".print_answers(globals(), {module!r}, {function!r}, {json.dumps(cases[function])})")
            nb.cells.insert(index + 1, new_code_cell(source, metadata={"coursetools_answers": function}))
            added[function] = (module, cases[function])
    return added


def _take_answer_cells(nb, added):
    """Remove the cells _add_answer_cells put in nb; return {function: (module, cases, answers)} they printed."""
    from readonly.checking import ANSWERS

    found = {}
    for cell in [c for c in nb.cells if "coursetools_answers" in c.metadata]:
        function = cell.metadata["coursetools_answers"]
        text = "".join(o.get("text", "") for o in cell.get("outputs", ()) if o.get("output_type") == "stream")
        lines = [line for line in text.splitlines() if line.startswith(ANSWERS)]
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            report = json.loads(lines[-1][len(ANSWERS):]) if lines else {}
            if report.get("function") == function and isinstance(report.get("answers"), list):
                found[function] = (*added[function], report["answers"])
        nb.cells.remove(cell)
    return {function: found.get(function, (*added[function], None)) for function in added}


def cross_check(notebooks, answers):
    """Take back the points of every function whose own tests passed but whose answers are wrong.

    notebooks: the worker's {notebook: {"grades": {grade_id: [score, manual]}, ...}}, changed in
    place; answers: GuardedExecute.answers.  The answers are judged here, in the grader's process,
    by the checks module's judge, so nothing the notebook did to its kernel can change the verdict.
    Returns the report's lines.
    """
    reasons = {}
    for function, (module, cases, got) in sorted(answers.items()):
        cells = [(notebook, grade_id) for notebook, data in notebooks.items() for grade_id in data["grades"]
                 if grade_id == f"test_{function}" or grade_id.startswith(f"test_{function}_")]
        if not any((notebooks[n]["grades"][g][0] or 0) > 0 for n, g in cells):
            continue  # nothing to take back
        why = None
        if not isinstance(got, list) or len(got) != len(cases):
            why = "the cell that asks for them did not report back (the notebook stopped it, or changed it)"
        else:
            judge = importlib.import_module(module).judge
            for case, answer in zip(cases, got):
                try:
                    judge(function, case, answer)
                except AssertionError as failed:
                    lines = [line.strip() for line in str(failed).splitlines() if line.strip()]
                    why = " ".join(lines[1:3] or lines)[:300]  # what was expected, what came back
                    break
        if why:
            for notebook, grade_id in cells:
                notebooks[notebook]["grades"][grade_id][0] = 0.0
            reasons.setdefault(why, []).append(function)
    return [f"{', '.join(functions)}: the tests passed in the notebook, but the grader's own call of "
            f"{'it' if len(functions) == 1 else 'them'} failed ({why}): 0 points (tests tampered with?)"
            for why, functions in reasons.items()]


def _copy_regular(source, destination):
    """Copy the regular files and folders under source; return what was left out (links, devices, ...)."""
    left_out = []
    for folder, dirs, files in os.walk(source):
        relative = os.path.relpath(folder, source)
        os.makedirs(os.path.join(destination, relative), exist_ok=True)
        for name in list(dirs):
            if os.path.islink(os.path.join(folder, name)):
                dirs.remove(name)
                left_out.append(os.path.normpath(os.path.join(relative, name)))
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copy2(path, os.path.join(destination, relative, name))
            else:
                left_out.append(os.path.normpath(os.path.join(relative, name)))
    return left_out


def _first_error(log, error):
    """The last `SomeError: message` line of a captured nbgrader log and traceback."""
    lines = [line.strip() for line in f"{log or ''}\n{error or ''}".splitlines()]
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*", line)
             and "NbGraderException" not in line]
    return (found[-1] if found else "nbgrader could not grade it")[:300]


def grade_submission(job):
    """Grade one submission in a private course; return its grades as plain data (runs in a worker)."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import capture_log
    from traitlets.config.loader import PyFileConfigLoader

    started = time.monotonic()
    assignment, student = job["assignment"], job["student"]
    manager, guarded = _kernel_classes()
    guarded.sandboxed = job["sandbox"] is not None
    if job["sandbox"] is not None:
        manager.options = {"work": job["work"], "args": job["sandbox"]}
    course = Path(tempfile.mkdtemp(prefix="c", dir=job["work"]))
    result = {"assignment": assignment, "student": student, "fingerprint": job["fingerprint"],
              "timestamp": None, "notebooks": {}, "problems": [], "output": None}
    try:
        shutil.copytree(job["template"], course, dirs_exist_ok=True)
        submitted = course / "submitted" / student / assignment
        left_out = _copy_regular(job["submission"], submitted)
        if left_out:
            result["problems"].append(f"left out what is not a regular file: {', '.join(sorted(left_out))}")
        present = [name for name in job["notebooks"] if (submitted / f"{name}.ipynb").is_file()]
        for name in sorted(set(job["notebooks"]) - set(present)):
            others = sorted(p.name for p in submitted.glob("*.ipynb"))
            result["problems"].append(f"{name}.ipynb is missing" + (f" (found {', '.join(others)})" if others else ""))
        if present:
            config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
            config.CourseDirectory.root = str(course)
            config.CourseDirectory.assignment_id = assignment
            config.CourseDirectory.student_id = student
            config.Autograde.autograde_preprocessors = [
                guarded if p is Execute else p for p in Autograde.autograde_preprocessors.default()]
            if job["cell_timeout"]:
                config.Execute.timeout = job["cell_timeout"]
            config.GuardedExecute.notebook_timeout = job["notebook_timeout"]
            config.GuardedExecute.shutdown_kernel = "immediate"  # all cells have run: no need to wait for it
            guarded.problems = []
            guarded.timings = {"kernel": 0.0, "cells": 0.0}
            guarded.seed, guarded.answers = int(job["fingerprint"][:8], 16), {}
            app = Autograde(coursedir=CourseDirectory(config=config), config=config)
            app.force, app.create_student = True, True
            run = capture_log(app)
            result["problems"] += guarded.problems
            result["timings"] = dict(guarded.timings)
            if not run["success"]:
                result["problems"].append(_first_error(run.get("log"), run.get("error")))
        output = course / "autograded" / student / assignment
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                submission = None
            if submission is not None and submission.timestamp is not None:
                result["timestamp"] = submission.timestamp.isoformat()
            for notebook in submission.notebooks if submission is not None else ():
                path = output / f"{notebook.name}.ipynb"
                graded = None
                if notebook.name in present and path.is_file():
                    cells = nbformat.read(path, as_version=4).cells
                    graded = [c.metadata["nbgrader"]["grade_id"] for c in cells
                              if c.metadata.get("nbgrader", {}).get("grade_id")]
                result["notebooks"][notebook.name] = {
                    "graded": graded,
                    "grades": {g.name: [g.auto_score, g.needs_manual_grade] for g in notebook.grades},
                    "comments": {c.name: c.auto_comment for c in notebook.comments},
                    "late_penalty": notebook.late_submission_penalty,
                }
        if present:
            result["problems"] += cross_check(result["notebooks"], guarded.answers)
        if output.is_dir():
            result["output"] = str(output)
            result["course"] = str(course)
    except Exception:  # a bug of ours, not the student's: the parent records nothing
        result["grader_error"] = traceback.format_exc()
    if result["output"] is None:
        shutil.rmtree(course, ignore_errors=True)
    result["seconds"] = time.monotonic() - started
    return result


def _worker_main():
    """A worker: one JSON job per line on stdin, one JSON result per line on stdout."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever else prints goes to the worker's log, not into the protocol
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about Ctrl-C
    for line in sys.stdin:
        result = grade_submission(json.loads(line))
        protocol.write(json.dumps(result) + "\n")
        protocol.flush()


# ----------------------------------------------------------------------------- parent side

def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Workers:
    """N worker processes, each fed by a thread; results arrive on one queue for the single writer."""

    def __init__(self, count, work):
        self.jobs, self.results, self.work = queue.Queue(), queue.Queue(), work
        self.processes = {}
        self.threads = [threading.Thread(target=self._serve, args=(slot,), daemon=True) for slot in range(count)]
        for thread in self.threads:
            thread.start()

    def _start(self, slot):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        log = open(Path(self.work) / f"worker-{slot}.log", "a")
        process = subprocess.Popen([sys.executable, "-m", "coursetools.grade", "--worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=self.work,
                                   start_new_session=True, preexec_fn=_die_with_parent)
        self.processes[slot] = process
        return process

    def _serve(self, slot):
        process = None
        while (job := self.jobs.get()) is not None:
            job = {**job, "sandbox": None if job["sandbox"] is None else [*job["sandbox"], "--slot", str(slot)]}
            line = ""
            for _ in range(2):  # a worker that dies is restarted once for the same submission
                if process is None or process.poll() is not None:
                    process = self._start(slot)
                try:
                    process.stdin.write(json.dumps(job) + "\n")
                    process.stdin.flush()
                    line = process.stdout.readline()
                except OSError:
                    line = ""
                if line:
                    break
                process.kill()
                process.wait()
                process = None
            if line:
                self.results.put(json.loads(line))
            else:
                self.results.put({**{k: job[k] for k in ("assignment", "student", "fingerprint")},
                                  "timestamp": None, "notebooks": {}, "output": None, "seconds": 0.0,
                                  "problems": ["the grader's worker process died twice on this submission"]})
        if process is not None:
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def submit(self, job):
        self.jobs.put(job)

    def close(self, kill=False):
        for _ in self.threads:
            self.jobs.put(None)
        if kill:
            for process in list(self.processes.values()):
                with contextlib.suppress(OSError):
                    process.kill()
        for thread in self.threads:
            thread.join(timeout=None if not kill else 5)


class Progress:
    """A progress bar with an ETA on a terminal; one plain line per submission otherwise."""

    def __init__(self, total, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.started = time.monotonic()
        self.tty = self.stream.isatty()

    def update(self, line):
        self.done += 1
        elapsed = time.monotonic() - self.started
        if not self.tty:
            print(f"[{self.done}/{self.total}] {line}", file=self.stream, flush=True)
            return
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}  {_clock(elapsed)} elapsed, ETA {_clock(eta)} ")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _digest(folder):
    """A fingerprint of everything under folder: names, link targets and contents."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def read_journal(root):
    """{(assignment, student): the last record} of the journal; a torn last line is ignored."""
    records = {}
    path = Path(root) / "autograded" / JOURNAL
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
                records[(record["assignment"], record["student"])] = record
            except (ValueError, KeyError, TypeError):
                continue
    return records


def _append_journal(root, record):
    path = Path(root) / "autograded" / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as journal:
        journal.write(json.dumps(record) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def _template(root, assignment, work, course_id):
    """A private course for one assignment: config, non-notebook source files, the gradebook without students."""
    from nbgrader.api import Gradebook, MissingEntry

    template = Path(work) / "templates" / assignment.name
    (template / "source").mkdir(parents=True)
    shutil.copy(Path(root) / "nbgrader_config.py", template / "nbgrader_config.py")
    shutil.copytree(Path(root) / "source" / assignment.name, template / "source" / assignment.name,
                    ignore=shutil.ignore_patterns("*.ipynb", "__pycache__", ".ipynb_checkpoints"))
    with contextlib.closing(sqlite3.connect(Path(root) / "gradebook.db")) as real, \
            contextlib.closing(sqlite3.connect(template / "gradebook.db")) as copy:
        real.backup(copy)
    with Gradebook(f"sqlite:///{template / 'gradebook.db'}", course_id) as gradebook:
        try:
            notebooks = [n.name for n in gradebook.find_assignment(assignment.name).notebooks]
        except MissingEntry:
            raise RuntimeError(f"assignment {assignment.name!r} is not in the gradebook: "
                               f"run `nbgrader generate_assignment {assignment.name}` (or `make release`) first")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's notes on cascades while removing
            for student in list(gradebook.students):
                gradebook.remove_student(student.id)
    return template, notebooks


def _merge(gradebook, root, result):
    """Write one result into the real gradebook and autograded/; return (score, max_score, problems)."""
    assignment, student = result["assignment"], result["student"]
    problems = list(result["problems"])
    gradebook.update_or_create_student(student)
    if result["timestamp"]:
        gradebook.update_or_create_submission(assignment, student,
                                              timestamp=datetime.fromisoformat(result["timestamp"]))
    else:
        gradebook.update_or_create_submission(assignment, student)
    for notebook in gradebook.find_assignment(assignment).notebooks:
        got = result["notebooks"].get(notebook.name) or {}
        graded = got.get("graded")
        submitted = gradebook.find_submission_notebook(notebook.name, assignment, student)
        lost = []
        for grade in submitted.grades:
            if graded is not None and grade.name in graded:
                grade.auto_score, grade.needs_manual_grade = got["grades"][grade.name]
            else:
                grade.auto_score, grade.needs_manual_grade = 0, False
                lost.append(grade.name)
        for comment in submitted.comments:
            comment.auto_comment = (got.get("comments") or {}).get(comment.name)
        submitted.late_submission_penalty = got.get("late_penalty")
        if graded is None:
            problems.append(f"{notebook.name}.ipynb not graded: 0 points")
        elif lost:
            problems.append(f"{notebook.name}.ipynb lacks cells {', '.join(lost)}: 0 points for them")
    gradebook.db.commit()
    destination = Path(root) / "autograded" / student / assignment
    if destination.exists():
        shutil.rmtree(destination)
    if result["output"]:
        _copy_regular(result["output"], destination)
        shutil.rmtree(result["course"], ignore_errors=True)
    submission = gradebook.find_submission(assignment, student)
    return submission.score, submission.max_score, problems


def _remove_stale(tmp):
    """Work folders of grader runs that were killed (their process is gone)."""
    for folder in glob.glob(os.path.join(tmp, "coursetools-grade-*-*")):
        try:
            os.kill(int(os.path.basename(folder).split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            pass


def check_sandbox(work):
    """Start a Python in the sandbox once (warming matplotlib's font cache); return the home to copy into kernels."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    scratch, private = Path(work) / "check" / "scratch", Path(work) / "check" / "private"
    scratch.mkdir(parents=True)
    private.mkdir()
    code = "import matplotlib.font_manager" if _has("matplotlib") else "pass"
    done = subprocess.run([sys.executable, sandbox.__file__, "--private", str(private), "--",
                           sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JPY_PARENT_PID": str(os.getpid())})
    if done.returncode != 0:
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here:\n{done.stderr.strip()}")
    return private / "home"


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def grade(root=REPO, names=None, jobs=None, sandboxed=True, force=False, students=None, cell_timeout=None,
          notebook_timeout=NOTEBOOK_TIMEOUT, limits=None, stream=None):
    """Grade every collected submission of the named assignments (all by default); return the report's lines."""
    from nbgrader.api import Gradebook
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    stream = stream or sys.stderr
    chosen = [a for a in assignments(root) if names is None or a.name in names]
    if names is not None and len(chosen) != len(set(names)):
        raise SystemExit(f"no such assignment: {sorted(set(names) - {a.name for a in chosen})}")
    jobs = jobs or os.cpu_count() or 1
    course_id = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config() \
        .CourseDirectory.get("course_id", "default_course")
    _remove_stale(tempfile.gettempdir())
    sandbox.remove_orphaned_caps()
    work = Path(tempfile.mkdtemp(prefix=f"coursetools-grade-{os.getpid()}-"))
    os.chmod(work, 0o755)
    try:
        launcher = None
        if sandboxed:
            try:
                home = check_sandbox(work)
            except SandboxUnavailable as problem:
                raise SystemExit(
                    f"Cannot grade untrusted work safely: {problem}.\nInstall bubblewrap (`apt-get install "
                    "bubblewrap`), or, only for work you trust, pass --unsandboxed to run students' code with "
                    "your own rights.")
            launcher = ["--home-template", str(home)]
            for name, value in {**sandbox.LIMITS, **(limits or {})}.items():
                launcher += ["--" + name.replace("_", "-"), str(value)]
        done = {} if force else read_journal(root)
        pending = []
        for assignment in chosen:
            folders = sorted(p for p in (root / "submitted").glob(f"*/{assignment.name}") if p.is_dir())
            folders = [p for p in folders if students is None or p.parent.name in students]
            if not folders:
                continue
            source = _digest(root / "source" / assignment.name)
            template, notebooks = _template(root, assignment, work, course_id)
            for folder in folders:
                fingerprint = hashlib.sha256((source + _digest(folder)).encode()).hexdigest()
                if done.get((assignment.name, folder.parent.name), {}).get("fingerprint") == fingerprint:
                    continue
                pending.append({"assignment": assignment.name, "student": folder.parent.name,
                                "submission": str(folder), "template": str(template), "notebooks": notebooks,
                                "fingerprint": fingerprint, "work": str(work), "sandbox": launcher,
                                "cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout})
        skipped = sum(1 for key in done if key[0] in {a.name for a in chosen})
        print(f"grading {len(pending)} submissions with {jobs} workers"
              f"{'' if sandboxed else ' UNSANDBOXED'}" + (f" ({skipped} already graded)" if skipped else ""),
              file=stream, flush=True)
        if sandboxed and sandbox.memory_cgroup() is None:
            print("no memory cgroup can be made here (not root, or no memory controller): memory is limited per"
                  " process only, not per sandbox", file=stream, flush=True)
        progress, failed = Progress(len(pending), stream), []
        workers = Workers(min(jobs, max(len(pending), 1)), work)
        try:
            for job in pending:
                workers.submit(job)
            with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id) as gradebook, \
                    warnings.catch_warnings():
                # nbgrader's own API triggers SQLAlchemy's autoflush note on every new student; stock
                # autograde prints it too, and the grades it writes are right (tests/test_grade.py).
                warnings.filterwarnings("ignore", message="Object of type .* not in session")
                for _ in pending:
                    result = workers.results.get()
                    if result.get("grader_error"):
                        failed.append(result)
                        progress.update(f"{result['assignment']}/{result['student']}: NOT GRADED, grader error:"
                                        f" {result['grader_error'].strip().splitlines()[-1]}")
                        continue
                    score, maximum, problems = _merge(gradebook, root, result)
                    _append_journal(root, {"assignment": result["assignment"], "student": result["student"],
                                           "fingerprint": result["fingerprint"], "score": score,
                                           "max_score": maximum, "problems": problems,
                                           "seconds": round(result["seconds"], 2),
                                           **{f"{k}_seconds": round(v, 2)
                                              for k, v in result.get("timings", {}).items()}})
                    line = f"{result['assignment']}/{result['student']}: {score:g}/{maximum:g} " \
                           f"in {result['seconds']:.1f} s" + (f"; {'; '.join(problems)}" if problems else "")
                    progress.update(line)
        except KeyboardInterrupt:
            workers.close(kill=True)
            print(f"\ninterrupted after {progress.done} of {len(pending)}; run again to grade the rest",
                  file=stream, flush=True)
            raise SystemExit(130)
        workers.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        sandbox.remove_orphaned_caps()
    if failed:
        print(failed[0]["grader_error"], file=stream)
        raise SystemExit(f"{len(failed)} submissions were not graded because of an error of the grader "
                         "(the first traceback is above); nothing was recorded for them")
    return report(root, [a.name for a in chosen])


def report(root, names):
    """Lines of the report: every graded submission with a problem, and why."""
    records = [r for key, r in sorted(read_journal(root).items()) if key[0] in names]
    troubled = [r for r in records if r["problems"]]
    lines = [f"report: {len(records)} submissions graded, {len(troubled)} with problems"]
    for record in troubled:
        lines.append(f"  {record['assignment']}/{record['student']} "
                     f"({record['score']:g}/{record['max_score']:g}): {'; '.join(record['problems'])}")
    return lines


def add_grade_arguments(parser):
    """The options of `python -m coursetools grade`."""
    parser.add_argument("--root", default=str(REPO), help="the course folder (default: this repository)")
    parser.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="submissions at once (default: number of cores)")
    parser.add_argument("--force", action="store_true", help="grade again what the journal says is graded")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run students' code with your own rights, no sandbox: only for work you trust")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT, help="seconds per notebook")
    parser.add_argument("--memory-mb", type=int, default=sandbox.LIMITS["memory"] // sandbox.MiB,
                        help="address space of each sandboxed process, MiB")
    parser.add_argument("--total-memory-mb", type=int, default=sandbox.LIMITS["total_memory"] // sandbox.MiB,
                        help="resident memory of all of one sandbox's processes together, MiB (needs a cgroup)")
    parser.add_argument("--processes", type=int, default=sandbox.LIMITS["processes"],
                        help="processes and threads of one sandbox")


def grade_command(arguments):
    """Run `grade` from parsed arguments and print the report."""
    lines = grade(arguments.root, names=arguments.assignment, jobs=arguments.jobs, sandboxed=not arguments.unsandboxed,
                  force=arguments.force, students=arguments.student, cell_timeout=arguments.cell_timeout,
                  notebook_timeout=arguments.notebook_timeout,
                  limits={"memory": arguments.memory_mb * sandbox.MiB, "processes": arguments.processes,
                          "total_memory": arguments.total_memory_mb * sandbox.MiB,
                          "cpu": max(sandbox.LIMITS["cpu"], arguments.notebook_timeout + 60)})
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker_main()
    else:
        raise SystemExit("use `python -m coursetools grade`")
