"""SandboxedKernelManager.shutdown_kernel(now=True), as nbclient calls it after the last cell: nothing is left.

The grader's override kills the launcher's process group and reaps the launcher itself (jupyter_client
would sleep 0.1 s first); jupyter_client then only closes the sockets and files.  Whatever way the
kernel started (cold in bwrap, or forked from the warm process), and with a process of its own
running in the sandbox, nothing of it may outlive the call for long: the launcher is reaped at once,
and the sandbox's processes (its user id's) are gone.
"""
import asyncio
import os
import time
from pathlib import Path

import pytest

from coursetools import sandbox, zygote
from coursetools.grading.kernel import SandboxedKernelManager, SandboxKernelSpecManager, claim_slot, probe_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.sandbox,
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's user ids need root")]


def _processes_of(uid):
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


async def _run_and_stop(launcher, work, scratch):
    """Start a kernel the grader's way, start a sleeper in its sandbox, stop it now; what the stop left."""
    manager = SandboxedKernelManager(work=str(work), kernel_name="python3")
    manager.kernel_spec_manager = SandboxKernelSpecManager(launcher_args=launcher)
    await manager.start_kernel(cwd=str(scratch), extra_arguments=["--HistoryManager.hist_file=:memory:"])
    launcher_process = manager.provisioner.process
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        manager.seal()
        reply = await client.execute_interactive("import subprocess; subprocess.Popen(['sleep', '600'])", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return manager, launcher_process


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_kernel_stopped_now_leaves_nothing(tmp_path, warm):
    os.chmod(tmp_path, 0o755)
    work, scratch = tmp_path / "work", tmp_path / "scratch"
    work.mkdir(mode=0o755)
    scratch.mkdir(mode=0o755)
    home = probe_sandbox(work)
    slot, holder = claim_slot()
    launcher = ["--home-template", str(home), "--slot", str(slot)]
    started = zygote.start(work) if warm else None
    if warm:
        assert started is not None
        launcher += ["--zygote", started[1]]
    try:
        uid = sandbox.BASE_UID - slot
        manager, launcher_process = asyncio.run(_run_and_stop(launcher, work, scratch))
        assert not manager.has_kernel
        assert launcher_process.returncode is not None  # reaped: no zombie, no wait left to anyone
        assert not Path(f"/proc/{launcher_process.pid}").exists()
        assert not Path(manager.connection_file).exists()
        deadline = time.monotonic() + 10
        while _processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_of(uid) == []
    finally:
        if started:
            started[0].kill()
            started[0].wait()
        holder.close()
