"""The bounded execute step: nbgrader's `Execute`, with limits that no notebook can get round.

`GuardedExecute` is what the grader's Autograde (`coursetools.grading.autograde`) runs instead of
`Execute`.  It adds a time limit for the whole notebook (through nbclient's public
`timeout_func`), a limit on the output of each cell and of the whole notebook, every channel
counted (streams, display data and its updates, errors, comm messages), and cells a dead kernel
did not run costing only themselves.  What it observes itself (its own clock, the kernel's exit,
the sandbox's memory cgroup) it puts into the notebook's resources, under "coursetools":
"problems" (a list of Problem), "timings" (seconds in the kernel's start and stop, in cells) and
"stamps" (time.time() when the first code cell started, kernel_ready, and when the last one ended,
cells_done).
"""
import asyncio
import contextlib
import json
import os
import signal
import time

from jupyter_core.utils import ensure_async
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Integer

from coursetools import sandbox
from coursetools.grading import answers
from coursetools.grading.bytecode import write_bytecode
from coursetools.grading.kernel import SealsKernelFolder, oom_kills
from coursetools.outcome import Problem

NOTEBOOK_TIMEOUT = 600
MAX_OUTPUT_BYTES = 2 ** 20
MAX_NOTEBOOK_OUTPUT_BYTES = 2 * 2 ** 20


class GuardedExecute(SealsKernelFolder, Execute):
    """nbgrader's Execute, bounded: whatever a notebook does, it ends and the cells it ran keep their results."""

    notebook_timeout = Integer(NOTEBOOK_TIMEOUT, help="seconds for the whole notebook").tag(config=True)
    max_output_bytes = Integer(MAX_OUTPUT_BYTES, help="output one cell may send").tag(config=True)
    max_notebook_output_bytes = Integer(MAX_NOTEBOOK_OUTPUT_BYTES, help="output all cells together may send").tag(
        config=True)

    sandboxed = Bool(False, help="start kernels in the sandbox (SandboxedKernelManager)").tag(config=True)
    bytecode = Dict(help="bytecode of the instructor's modules, {path relative to the notebook's folder: bytes} "
                         "(coursetools.grading.bytecode), written before the kernel starts").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout_func = self._cell_timeout
        if not self.kernel_name:  # never the submission's kernelspec: a name the worker lacks would lose its points
            self.kernel_name = "python3"
        if self.sandboxed:  # nbgrader's Execute passes its kernel manager class as an argument, past the config
            from coursetools.grading.kernel import SandboxedKernelManager

            self.kernel_manager_class = SandboxedKernelManager

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped, self._notebook_bytes, self._oom_kills = None, 0, 0
        resources = {} if resources is None else resources
        found = resources.setdefault("coursetools", {})  # the converter's own dict: kept if a step raises
        self._problems = found.setdefault("problems", [])
        self._timings = found.setdefault("timings", {"kernel": 0.0, "cells": 0.0})
        self._stamps = found.setdefault("stamps", {})
        folder = resources.get("metadata", {}).get("path")  # the kernel's working folder
        if folder:  # the kernel sees its folder read-only: it could cache no bytecode of its own
            write_bytecode(folder, self.bytecode)
        started = time.monotonic()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._timings["kernel"] += time.monotonic() - started - self._timings["cells"]

    def _cell_timeout(self, cell):
        timeout = self.timeout
        remaining = max(1, int(self._deadline - time.monotonic()) + 1)
        return remaining if timeout is None or timeout <= 0 else min(timeout, remaining)

    @staticmethod
    def _error(cell, name, message):
        cell.outputs.append(NotebookNode(output_type="error", ename=name, evalue=message,
                                         traceback=[f"{name}: {message}"]))

    @staticmethod
    def _name(cell, index):
        if answers.CELL_KEY in cell.metadata:
            return f"the grader's call of {cell.metadata[answers.CELL_KEY]}"
        return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped is None and time.monotonic() >= self._deadline:
            self._stop("notebook-timeout", f"the notebook ran out of its {self.notebook_timeout} s",
                       f"at {self._name(cell, index)}")
        if self._stopped:
            cell.outputs = []
            self._error(cell, "NotRun", self._stopped)
            return cell, resources
        self._cell_bytes, self._flooded, self._timed_out = 0, None, False
        started, allowed = time.monotonic(), self._cell_timeout(cell)
        self._stamps.setdefault("kernel_ready", time.time())
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            status = self._exit_status()
            kind = "out-of-memory" if status.startswith(" (out of memory") else "kernel-died"
            self._stop(kind, "the kernel died" + status, f"in {self._name(cell, index)}")
            self._error(cell, "DeadKernelError", self._stopped)
            return cell, resources
        except CellTimeoutError:  # it timed out and an interrupt did not stop it
            self._stop("kernel-unresponsive", "the kernel did not stop when interrupted",
                       f"after {self._name(cell, index)} timed out")
            self._error(cell, "CellTimeoutError", self._stopped)
            return cell, resources
        finally:
            elapsed = time.monotonic() - started
            self._timings["cells"] += elapsed
            self._stamps["cells_done"] = time.time()
        # Only what the grader saw itself: its own timer, the sandbox's memory cgroup; never the cell's output.
        if self._timed_out and not self._stopped:
            self._problems.append(Problem("cell-timeout", f"{self._name(cell, index)} ran out of its {allowed} s"))
        kills = oom_kills(self._launcher_pid())
        if kills > self._oom_kills:
            self._oom_kills = kills
            self._problems.append(Problem("out-of-memory", f"a process of {self._name(cell, index)} was killed: the "
                                                           "sandbox's processes together passed its memory limit"))
        if self._flooded:
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"][:20]
            self._error(cell, "OutputLimitExceeded", self._flooded)
            self._problems.append(Problem("output-limit", f"{self._name(cell, index)} sent {self._flooded}"))
            if self._flooded.endswith("in all its cells"):
                self._stop("output-limit", "the notebook's output passed its limit", f"at {self._name(cell, index)}")
        return cell, resources

    def _launcher_pid(self):
        try:
            return self.km.provisioner.process.pid
        except AttributeError:
            return None

    def _stop(self, kind, why, where):
        self._stopped = why
        self._problems.append(Problem(kind, f"{why} {where}; later cells not run"))

    def _exit_status(self):
        try:
            code = self.km.provisioner.process.poll()
        except AttributeError:
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
        """nbclient's hook: a reply with no header is the one nbclient made itself when its timer ran out."""
        super().on_cell_executed(**kwargs)
        self._timed_out = "header" not in kwargs["execute_reply"]

    def process_message(self, msg, cell, cell_index):
        """Count every message's bytes against the limits; past them, keep nothing more and interrupt the cell."""
        if msg.get("msg_type") not in ("status", "execute_input"):
            size = len(json.dumps(msg.get("content", {}), default=str)) * self._copies(msg)
            self._cell_bytes += size
            if self._flooded is None:  # the notebook's count is of what it keeps
                self._notebook_bytes += size
            if self._flooded is None and self._cell_bytes > self.max_output_bytes:
                self._flooded = f"more than {self.max_output_bytes} bytes of output"
            elif self._flooded is None and self._notebook_bytes > self.max_notebook_output_bytes:
                self._flooded = f"more than {self.max_notebook_output_bytes} bytes of output in all its cells"
            if self._flooded:
                if not getattr(self, "_interrupting", False):
                    self._interrupting = True
                    asyncio.ensure_future(self._interrupt())
                if msg.get("msg_type") in ("execute_reply", "error"):
                    return super().process_message(_strip(msg), cell, cell_index)
                return None
        return super().process_message(msg, cell, cell_index)

    def _copies(self, msg):
        """How many outputs a message writes: an update is written into every output of its display id."""
        transient = msg.get("content", {}).get("transient") or {}
        if msg.get("msg_type") != "update_display_data" or not transient.get("display_id"):
            return 1
        shown = self._display_id_map.get(transient["display_id"], {})
        return max(1, sum(len(outputs) for outputs in shown.values()))

    async def _interrupt(self):
        try:
            await ensure_async(self.km.interrupt_kernel())
        finally:
            self._interrupting = False


def _strip(msg):
    """An error message with its (possibly huge) traceback and value cut short."""
    if msg.get("msg_type") != "error":
        return msg
    content = dict(msg["content"])
    content["evalue"] = str(content.get("evalue", ""))[:500]
    content["traceback"] = [line[:500] for line in content.get("traceback", [])[:20]]
    return {**msg, "content": content}
