"""Stock `nbgrader autograde`, and the formgrader's Autograde button, in the sandbox of `make grade`.

nbgrader_config.py puts `SandboxedExecute` where nbgrader's `Execute` is in
`Autograde.autograde_preprocessors`; every other step of the pipeline stays stock.  It is nbgrader's
`Execute` with one change: the kernel starts in `coursetools/sandbox.py` (bubblewrap), exactly as
`make grade` starts it (`coursetools.grading.kernel`: the kernel spec wrapped in the launcher,
`interrupt_mode: "message"`, the `ipc` transport in a private folder sealed once the kernel is
ready, a home copied from a template, this process's slot, the launcher's default limits or
`c.SandboxedExecute.limits`).  Scores are stock nbgrader's: a kernel that dies still fails the
whole notebook, as in stock nbgrader; the per-notebook time and output limits and the grader's
own call of `make grade` (`AddGraderCells`) are not added.

What it prepares, once per process and only when a notebook is executed, it keeps in `_PREPARED`, a
module-level object keyed by the process id (a fork prepares its own): a folder
`coursetools-<pid>-*` (in /dev/shm where it can) with the home template that `probe_sandbox`
makes (the sandbox started once) and each kernel's private folder, removed with each notebook and
the whole at exit (or by `make grade`'s clean-up of a killed process's folders); and the slot
(`claim_slot`), held while the process lives.  The Jupyter server, where the formgrader calls
nbgrader's API in-process, prepares it at its first Autograde and reuses it after, from any thread.
No state goes through class attributes; only a failed check is tried again, each time.

Where no sandbox can be made (no bubblewrap, no namespaces) each submission fails with
`SandboxUnavailable`, whose message names `make grade` and `--unsandboxed`; nbgrader removes what it
had written of it, so that it is graded later as usual.  The one way to run students' code
unsandboxed here is explicit: `COURSETOOLS_UNSANDBOXED=1` in the environment of `nbgrader
autograde` (or of the Jupyter server), for work you trust; every notebook it grades so logs a
warning that starts with UNSANDBOXED.

`make grade` is not affected: its workers load nbgrader_config.py too, but
`coursetools.grading.autograde` then sets the autograde steps itself, from nbgrader's default list
with the grader's steps for `Execute`, so `SandboxedExecute` never runs there.
`nbgrader validate` (the learners' Validate button) and `generate_assignment` run their own stock
`Execute`: a learner's own notebook as the learner, or the instructor's source, so no sandbox.
"""
import atexit
import os
import shutil
import tempfile
import threading

from nbclient.util import run_sync
from nbgrader.preprocessors import Execute
from traitlets import Dict

from coursetools import cgroups, sandbox
from coursetools.errors import GradingError
from coursetools.grading.kernel import SealsKernelFolder

#: The environment variable that, set to 1, lets stock autograde run students' code unsandboxed.
UNSANDBOXED = "COURSETOOLS_UNSANDBOXED"


class SandboxUnavailable(Exception):
    """No sandbox can be made here: stock autograde refuses to run students' code."""


def refusal(why):
    return (f"Refusing to run students' code unsandboxed: the sandbox cannot start here ({why}). "
            "Install bubblewrap (`apt-get install bubblewrap`) and grade again, or grade with `make grade`, "
            "the course's sandboxed grader; only for work you trust, run `make grade GRADE_FLAGS=--unsandboxed` "
            f"(or stock nbgrader autograde with {UNSANDBOXED}=1).")


class _Prepared:
    """What this process's sandboxed kernels share: their folder, the home template, the slot."""

    def __init__(self):
        self.pid, self.folder, self.home, self.slot, self._holder = os.getpid(), None, None, None, None

    def make(self):
        from coursetools.grading.kernel import probe_sandbox, claim_slot

        if shutil.which("bwrap") is None:
            raise SandboxUnavailable(refusal("bubblewrap (bwrap) is not installed"))
        shm = "/dev/shm"
        where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        folder = tempfile.mkdtemp(prefix=f"coursetools-{self.pid}-", dir=where)
        try:
            os.chmod(folder, 0o755)
            home = str(probe_sandbox(folder))
            slot, holder = claim_slot()
        except GradingError as problem:
            _remove(folder)
            raise SandboxUnavailable(refusal(str(problem))) from None
        except BaseException:
            _remove(folder)
            raise
        self.folder, self.home, self.slot, self._holder = folder, home, slot, holder
        atexit.register(self.close)
        return self

    def close(self):
        if os.getpid() == self.pid and self.folder:  # not a forked child's: its parent's folder
            _remove(self.folder)
            self.folder = None
        if self._holder is not None and os.getpid() == self.pid:
            self._holder.close()
            self._holder = None


_PREPARED, _LOCK = {}, threading.Lock()


def prepared():
    """This process's `_Prepared`, made at the first call; SandboxUnavailable if no sandbox can be made."""
    with _LOCK:
        ready = _PREPARED.get(os.getpid())
        if ready is None:
            ready = _PREPARED[os.getpid()] = _Prepared().make()
        return ready


def _remove(folder):
    from coursetools.grading.files import remove_tree

    remove_tree(folder)


def unsandboxed():
    """Whether the environment asks, explicitly, for kernels without the sandbox."""
    return os.environ.get(UNSANDBOXED) == "1"


class SandboxedExecute(SealsKernelFolder, Execute):
    """nbgrader's Execute, its kernels started in the sandbox of `make grade` (see the module)."""

    limits = Dict(help="the sandbox launcher's limits (coursetools.sandbox.LIMITS names them); "
                       "the launcher's defaults for those not given").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if km is not None:
            raise ValueError("SandboxedExecute starts its own, sandboxed kernel; it takes none")
        self._private_folders = []
        if unsandboxed():
            self._launcher = None
            self.log.warning("UNSANDBOXED: %s=1, so students' code runs with this process's rights, unsandboxed",
                             UNSANDBOXED)
        else:
            try:
                ready = prepared()
            except SandboxUnavailable as refused:
                self.log.error("%s", refused)  # one plain line above nbgrader's traceback of the submission
                raise
            self._launcher = (ready, ["--home-template", ready.home, "--slot", str(ready.slot),
                                      *self._limit_arguments()])
        try:
            return super().preprocess(nb, resources, km)
        finally:
            for folder in self._private_folders:
                _remove(folder)
            if self._launcher is not None:
                cgroups.remove_orphaned_caps()  # of launchers killed (a kernel that would not shut down)

    def _limit_arguments(self):
        arguments = []
        for name, value in sorted(self.limits.items()):
            if name not in sandbox.LIMITS:
                raise ValueError(f"c.SandboxedExecute.limits: no limit {name!r} "
                                         f"(the limits are {', '.join(sandbox.LIMITS)})")
            arguments += ["--" + name.replace("_", "-"), str(int(value))]
        return arguments

    def create_kernel_manager(self):
        """nbclient's, but a SandboxedKernelManager whose kernel spec starts in the sandbox."""
        if self._launcher is None:
            return super().create_kernel_manager()
        from coursetools.grading.kernel import SandboxedKernelManager, SandboxKernelSpecManager

        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or ""
        ready, arguments = self._launcher
        specs = SandboxKernelSpecManager(config=self.config, launcher_args=arguments)
        named = {"kernel_name": self.kernel_name} if self.kernel_name else {}
        self.km = SandboxedKernelManager(config=self.config, work=ready.folder, kernel_spec_manager=specs, **named)
        self._private_folders.append(os.path.dirname(self.km.connection_file))
        return self.km

    async def async_start_new_kernel(self, **kwargs):
        """nbclient's; never in this process's folder: the sandbox binds the working folder's files into it."""
        if self._launcher is not None and not (self.resources.get("metadata", {}).get("path") or kwargs.get("cwd")):
            raise SandboxUnavailable("no working folder for the kernel: nbgrader names the notebook's folder")
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient's blocking form wraps its own coroutine


def autograde_preprocessors():
    """nbgrader's default autograde steps with SandboxedExecute, then MakeInert, for Execute (nbgrader_config.py's).

    MakeInert (coursetools.grading.inert) leaves the autograded notebook's outputs without HTML or script
    for the formgrader's pages and the feedback to run, as in `make grade`; it changes no grade.
    """
    from nbgrader.converters import Autograde

    from coursetools.grading.inert import MakeInert

    steps = []
    for step in Autograde.autograde_preprocessors.default():
        steps += [SandboxedExecute, MakeInert] if step is Execute else [step]
    return steps
