"""The sandboxed kernel: a kernel spec whose command runs ipykernel under `coursetools/sandbox.py`.

Two public extension points of jupyter_client do the work:

* `SandboxKernelSpecManager.get_kernel_spec` wraps the kernel's command in the launcher and sets
  `interrupt_mode: "message"` (a signal cannot reach a kernel in its own PID namespace; ipykernel's
  interrupt request on the control channel can);
* `SandboxedKernelManager` puts the connection file and the `ipc` sockets in a private folder
  per kernel, which the launcher binds into the sandbox.  Its options are traitlets, set through
  the config that nbclient hands every kernel manager it makes.  Its client (`client_factory`) is
  `PromptKernelClient`, ready without jupyter_client's 0.2 s of waiting for IOPub to fall silent, and
  its `shutdown_kernel` waits for a killed launcher in short steps, not jupyter_client's 0.1 s sleeps.
"""
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

from jupyter_client import AsyncKernelClient
from jupyter_client.channels import major_protocol_version
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.util import run_sync
from traitlets import DottedObjectName, Instance, List, Unicode, default

from coursetools import cgroups, sandbox
from coursetools.errors import GradingError

#: Seconds between looks at a killed launcher, until it is gone (it takes a few milliseconds).
KILL_POLL = 0.002


class SandboxKernelSpecManager(KernelSpecManager):
    """Kernel specs whose command starts in the sandbox; launcher_args are the launcher's options."""

    launcher_args = List(Unicode(), help="options of coursetools/sandbox.py (limits, slot, home template)").tag(
        config=True)

    def get_kernel_spec(self, kernel_name):
        spec = super().get_kernel_spec(kernel_name)
        spec.argv = [sys.executable, sandbox.__file__, "--connection-file", "{connection_file}", "--quiet",
                     *self.launcher_args, "--", *spec.argv]
        spec.interrupt_mode = "message"
        return spec


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel has answered kernel_info on both channels.

    jupyter_client's own wait_for_ready, once the kernel has replied, reads IOPub until it has been
    silent for 0.2 s, to drop what came before.  nbclient drops every IOPub message that is not of
    the cell it runs, so that wait only idles: 0.2 s a kernel, a sixth of a submission's time on a
    worker.  Here the client is ready once the kernel's `idle` status for a kernel_info request
    arrives on IOPub: IOPub is then connected (a message published after the subscription came
    through), which is what the wait made sure of.  Where no reply comes within a second, or the
    status not within IOPUB_WAIT of the reply (it was published before the subscription came
    through, and is lost), kernel_info is sent again, as jupyter_client sends it again; the
    status of any of the requests will do.
    """

    #: Seconds to wait on IOPub for the status that follows a kernel_info reply before asking again.
    IOPUB_WAIT = 0.05

    async def wait_for_ready(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        asked = set()
        while True:
            asked.add(self.kernel_info())
            replied = await self._message(self.shell_channel, lambda m: m["msg_type"] == "kernel_info_reply")
            if replied is not None and await self._message(self.iopub_channel, lambda m: (
                    m["parent_header"].get("msg_id") in asked and m["msg_type"] == "status"
                    and m["content"].get("execution_state") == "idle"), self.IOPUB_WAIT) is not None:
                major = int(replied["content"]["protocol_version"].split(".")[0])
                if major != major_protocol_version:  # as jupyter_client adapts to an older kernel
                    self.session.adapt_version = major
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if deadline is not None and time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    @staticmethod
    async def _message(channel, wanted, wait=1.0):
        """The first message on channel for which wanted(message) is true within wait seconds, or None."""
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            try:
                message = await channel.get_msg(timeout=left)
            except Empty:
                return None
            if wanted(message):
                return message
        return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel in the sandbox: `ipc` transport, its connection file and sockets in a folder of its own."""

    work = Unicode(help="the folder under which each kernel's private folder is made").tag(config=True)
    client_class = DottedObjectName("coursetools.grading.kernel.PromptKernelClient")
    kernel_spec_manager = Instance(KernelSpecManager)

    @default("kernel_spec_manager")
    def _sandbox_specs(self):
        return SandboxKernelSpecManager(parent=self)

    @default("client_factory")
    def _prompt_client(self):
        # AsyncKernelManager declares client_factory again, with its own class as the fixed default: the
        # default that reads client_class no longer applies to it, so client_class alone was never used.
        return PromptKernelClient

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        private = tempfile.mkdtemp(prefix="k", dir=self.work or None)
        os.chmod(private, 0o755)
        self.transport = "ipc"
        self.ip = os.path.join(private, "kernel")
        self.connection_file = os.path.join(private, "connection.json")

    async def shutdown_kernel(self, now=False, restart=False):
        """jupyter_client's.  Told to stop now (nbclient's "immediate"), it first kills the launcher's process
        group and waits for the launcher in steps of KILL_POLL, where jupyter_client would sleep 0.1 s.  Once
        the launcher is reaped, jupyter_client has no kernel left to interrupt (a message nobody reads, which
        held the ZeroMQ context 0.1 s as it closed) or to wait for; it then closes the sockets and files."""
        if now and not restart and self.has_kernel:
            await self.provisioner.kill()
            process, deadline = self.provisioner.process, time.monotonic() + 1.0
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(KILL_POLL)
            if process.poll() is not None:
                await self.provisioner.wait()
        await super().shutdown_kernel(now=now, restart=restart)

    def seal(self):
        """Make the private folder read-only for the kernel (its sockets are made): it can write nothing there.

        Holds where the grader runs as root, the folder's owner; the kernel's user id is another.
        """
        os.chmod(os.path.dirname(self.connection_file), 0o555)


class SealsKernelFolder:
    """Mixed into an nbclient executor before it: once the kernel is ready, its private folder is sealed."""

    async def async_start_new_kernel_client(self):
        """nbclient's: start the kernel and wait until it is ready; then seal its private folder."""
        client = await super().async_start_new_kernel_client()
        seal = getattr(self.km, "seal", None)
        if seal is not None:
            seal()
        return client

    #: nbclient's blocking form, which nbconvert's `preprocess` calls, wraps nbclient's own coroutine, not
    #: this one: without it here the folder was never sealed (tests/test_attacks.py, writes-the-kernel-folder).
    start_new_kernel_client = run_sync(async_start_new_kernel_client)


def oom_kills(launcher_pid):
    """How many processes the memory cgroup of the sandbox of launcher_pid has killed (0 without one).

    Read from the cgroup itself (v1 `memory.oom_control`, v2 `memory.events`), which the kernel
    writes and the sandbox cannot: what the grader reports as out of memory is what it saw there.
    """
    found = cgroups.memory_cgroup() if launcher_pid else None
    if found is None:
        return 0
    parent, version = found
    events = "memory.oom_control" if version == 1 else "memory.events"
    try:
        with open(os.path.join(parent, f"{cgroups.CGROUP_PREFIX}{launcher_pid}", events)) as lines:
            counts = dict(line.split() for line in lines if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))
    except (OSError, ValueError):
        return 0


def claim_slot():
    """(a slot number no other grading process on this host holds, the socket that holds it).

    Kernels of different slots run as different user ids (sandbox.BASE_UID - slot), so that parallel
    kernels on one host do not share one count of processes.  The claim is a Unix socket bound to
    an abstract name (no file): it lasts while the caller keeps the socket, and the kernel releases
    it when the process ends, however it ends.
    """
    for number in range(256):
        holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            holder.bind(f"\0coursetools-slot-{number}")
        except OSError:
            holder.close()
            continue
        return number, holder
    raise GradingError("more than 256 grading processes on this host")


def probe_sandbox(work):
    """Start a Python in the sandbox once (warming matplotlib's font cache); return the home to copy into kernels.

    With matplotlib's font list in the home, a kernel never builds it again: building it runs `fc-list`,
    whose complaints (fontconfig's, on stderr) would land in the output of a notebook's first cell
    that imports matplotlib, and costs each kernel a second.  The probe runs in an empty folder of its
    own: the sandbox binds whatever its working folder holds read-only, which would include the home.

    Raises GradingError, with what to do, where bubblewrap is missing or cannot make namespaces.
    """
    if shutil.which("bwrap") is None:
        raise GradingError("bubblewrap (bwrap) is not installed")
    private, scratch = Path(work) / "check", Path(work) / "check-scratch"
    private.mkdir(parents=True)
    scratch.mkdir()
    (private / "connection.json").write_text("{}")
    code = "import matplotlib.font_manager" if _has("matplotlib") else "pass"
    done = subprocess.run([sys.executable, sandbox.__file__, "--connection-file", str(private / "connection.json"),
                           "--keep-home", "--", sys.executable, "-c", code],
                          cwd=scratch, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JPY_PARENT_PID": str(os.getpid())})
    if done.returncode != 0:
        raise GradingError(f"bubblewrap cannot start a sandbox here:\n{done.stderr.strip()}")
    return private / "home"


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
