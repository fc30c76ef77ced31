"""A warm kernel (forked from `coursetools/zygote.py` into a sandbox bwrap made) sees what a cold one sees.

Each kernel is started the grader's way (`SandboxedKernelManager`, the launcher's options a worker
gives it) and runs one probe: its ids and capabilities, limits, environment, sys.path and flags,
working folder, mounts, the processes and files it can see, its cgroups, network, and what it may
write.  The two probes must be equal but for what differs by design (the placeholder process of the
warm sandbox, its PIDs, the modules the warm process had imported), and two warm kernels must not
draw the same random numbers.
"""
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys

import pytest
from jupyter_client import AsyncKernelClient

from coursetools import sandbox, zygote
from coursetools.course import REPO
from coursetools.grading.kernel import SandboxedKernelManager, SandboxKernelSpecManager, claim_slot, probe_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.sandbox,
              pytest.mark.skipif(os.geteuid() != 0, reason="warm kernels need root (they enter bwrap's namespaces)")]

PROBE = r"""
import json, os, random, re, resource, sys
import numpy
def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as problem:
        return type(problem).__name__
def writable(folder):
    try:
        with open(os.path.join(folder, ".probe"), "w") as f:
            f.write("x")
        os.remove(os.path.join(folder, ".probe"))
        return True
    except OSError:
        return False
status = dict(line.split(":\t", 1) for line in read("/proc/self/status").splitlines() if ":\t" in line)
me = str(os.getpid())
processes = sorted(read(f"/proc/{pid}/cmdline").split("\0")[0] for pid in os.listdir("/proc")
                   if pid.isdigit() and pid != me)
report = {
    "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
    "status": {key: status[key].strip() for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                                                   "Seccomp", "SigBlk", "SigIgn", "SigCgt") if key in status},
    "limits": {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")},
    "environ": dict(os.environ),
    "path": sys.path,
    "flags": repr(sys.flags),
    "cwd": os.getcwd(),
    "umask": os.umask(0o022),
    "mounts": sorted(" ".join(line.split()[4:6]) + " " + line.split(" - ")[1].split()[0]
                     for line in read("/proc/self/mountinfo").splitlines()),
    "root": sorted(os.listdir("/")),
    "processes": processes,
    # What each file beyond the standard three is (a cold kernel's stdio are the launcher's pipes); not its
    # number, which depends on the order the kernel's imports opened and closed files.
    "fds": sorted(re.sub(r"\[[0-9]+\]$", "", os.readlink(f"/proc/self/fd/{fd}")) for fd in os.listdir("/proc/self/fd")
                  if int(fd) > 2 and os.path.exists(f"/proc/self/fd/{fd}")),
    "cgroup": read("/proc/self/cgroup"),
    "net": sorted(line.split(":")[0].strip() for line in read("/proc/net/dev").splitlines()[2:]),
    "hostname": os.uname().nodename,
    "writable": {folder: writable(folder) for folder in ("/", "/tmp", os.environ["HOME"], os.getcwd(), "/usr")},
    "home": sorted(os.listdir(os.environ["HOME"])),
    "modules": sorted(sys.modules),
    "random": [random.random(), float(numpy.random.random())],
    "argv": sys.argv[1:],
    "history": str(get_ipython().history_manager.hist_file),
    "threads": len(os.listdir("/proc/self/task")),
    "own environ readable": bool(read("/proc/self/environ")) and read("/proc/self/environ") != "PermissionError",
    "cmdline": read("/proc/self/cmdline").replace("\0", " "),
    "import caches": sorted(sys.path_importer_cache),
}
print("PROBE" + json.dumps(report))
"""


async def _probe(launcher, work, scratch):
    manager = SandboxedKernelManager(work=str(work), kernel_name="python3")
    manager.kernel_spec_manager = SandboxKernelSpecManager(launcher_args=launcher)
    await manager.start_kernel(cwd=str(scratch), extra_arguments=["--HistoryManager.hist_file=:memory:"])  # nbclient's
    # jupyter_client's own client, not the grader's PromptKernelClient: its wait_for_ready lets IOPub fall
    # silent for 0.2 s, by when each of the client's sockets has been accepted, so that the kernels' files
    # compare (with the prompt client, one kernel once held one socket more than the other).
    manager.client_factory = AsyncKernelClient
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        manager.seal()
        texts = []
        await client.execute_interactive(PROBE, timeout=120, output_hook=lambda message: texts.append(
            message["content"].get("text", "") + message["content"].get("evalue", "")))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel()
    text = "".join(texts)
    assert "PROBE" in text, text
    return json.loads(text.split("PROBE", 1)[1]), os.path.dirname(manager.connection_file)


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    top = tmp_path_factory.mktemp("zygote")
    os.chmod(top, 0o755)
    work = top / "work"
    work.mkdir(mode=0o755)
    scratch = top / "scratch"
    scratch.mkdir(mode=0o755)
    (scratch / "helper.py").write_text("VALUE = 1\n")
    home = probe_sandbox(work)
    slot, holder = claim_slot()
    launcher = ["--home-template", str(home), "--slot", str(slot)]
    warm = zygote.start(work)
    assert warm is not None
    process, path = warm
    # SIGHUP ignored here, as under nohup: a cold kernel inherits that, the launcher's fallback too.
    hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        results = {"cold": asyncio.run(_probe(launcher, work, scratch))}
        for name in ("warm", "warm again"):
            results[name] = asyncio.run(_probe([*launcher, "--zygote", path], work, scratch))
        process.kill()
        process.wait()
        results["warm process gone"] = asyncio.run(_probe([*launcher, "--zygote", path], work, scratch))
    finally:
        process.kill()
        process.wait()
        holder.close()
    results["work"] = str(work)
    try:
        yield results, process, slot
    finally:
        signal.signal(signal.SIGHUP, hangup)


def _own_signals(*keys):
    """The signals this process ignores or blocks (or those of `keys`), as a mask of /proc/self/status."""
    with open("/proc/self/status") as f:
        status = dict(line.split(":\t", 1) for line in f if ":\t" in line)
    result = 0
    for key in keys or ("SigIgn", "SigBlk"):
        result |= int(status[key], 16)
    return result


def _normal(report, private):
    report = json.loads(json.dumps(report).replace(private, "<private>"))
    for key in ("random", "cmdline", "import caches"):  # the caches' order of filling differs
        report.pop(key)
    return report


def test_a_warm_kernel_sees_what_a_cold_one_sees(probes):
    results, _, slot = probes
    cold, warm = (_normal(*results[name]) for name in ("cold", "warm"))
    uid = sandbox.BASE_UID - slot
    assert cold["ids"] == [[uid] * 3, [uid] * 3, []]
    assert cold["status"]["CapEff"] == "0000000000000000" and cold["status"]["NoNewPrivs"] == "1"
    # By design: the warm sandbox's placeholder, and the modules the warm process imported before.
    assert cold["processes"] == ["bwrap"] and warm["processes"] == ["bwrap", "sleep"]
    extra = set(warm.pop("modules")) - set(cold.pop("modules"))
    assert {name.split(".")[0] for name in extra} <= {"numpy", "ctypes", "_ctypes", "importlib", "select", "ipykernel",
                                                     "IPython", "jupyter_client", "zmq", "tornado", "secrets"}, sorted(extra)
    assert not [name for name in extra if name.startswith("coursetools")]
    for report in (cold, warm):
        report.pop("processes")
    assert warm["history"] == ":memory:" and warm["own environ readable"]
    # A cold kernel inherits the signals this process ignores or blocks (they survive exec); a warm one
    # starts from a fresh Python's: SIGPIPE and SIGXFSZ ignored, nothing blocked.  glibc keeps 32 and 33
    # (SIGCANCEL, SIGSETXID) for itself: no Python can set them, so both kernels inherit those as they
    # are here (a CI runner had 32 ignored).  Compare the rest.
    inherited = _own_signals()
    settable = sum(1 << (number - 1) for number in signal.valid_signals() if number < 65)
    warm_ignored = int(warm["status"]["SigIgn"], 16)
    assert warm_ignored & settable == (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))
    assert warm_ignored & ~settable == _own_signals("SigIgn") & ~settable
    assert int(warm["status"]["SigBlk"], 16) == 0
    for report in (cold, warm):
        for key in ("SigIgn", "SigBlk", "SigCgt"):
            report["status"][key] = int(report["status"][key], 16) & ~inherited
    # Files: the warm kernel holds none a cold one lacks.  It may hold fewer eventfds (ZeroMQ's): a kernel
    # whose debugger (debugpy) was imported before it started makes one fewer, forked or not.
    cold_fds, warm_fds = collections.Counter(cold.pop("fds")), collections.Counter(warm.pop("fds"))
    assert not warm_fds - cold_fds, warm_fds - cold_fds
    assert set(cold_fds - warm_fds) <= {"anon_inode:[eventfd]"}, cold_fds - warm_fds
    differing = {key: (cold[key], warm.get(key)) for key in cold if cold[key] != warm.get(key)}
    if "status" in differing:
        differing["status"] = {key: (value, warm["status"].get(key)) for key, value in cold["status"].items()
                               if warm["status"].get(key) != value}
    assert warm == cold, differing


def test_a_warm_kernel_holds_no_path_of_the_worker_or_the_course(probes):
    results, _, _ = probes
    work = results["work"]
    for name in ("warm", "warm again"):
        text = json.dumps(_normal(*results[name])) + results[name][0]["cmdline"]
        assert work not in text.replace(results[name][1], "<private>"), text
        assert os.path.join(REPO, "coursetools") not in text and "gradebook.db" not in text
        venv = os.path.realpath(sys.prefix)
        leaked = [key for key in results[name][0]["import caches"] if key.startswith("/")
                  and os.path.commonpath([key, str(REPO)]) == str(REPO) and os.path.commonpath([key, venv]) != venv]
        assert not leaked, leaked  # the folders the warm process imported from (the repository's)


def test_without_its_warm_process_the_launcher_starts_the_kernel_cold(probes):
    results, _, _ = probes
    cold, fallback = (_normal(*results[name]) for name in ("cold", "warm process gone"))
    assert fallback["processes"] == ["bwrap"]
    assert fallback["modules"] == cold["modules"]
    # Key by key, so that a failure names what differs: it named SigIgn, the launcher's SIGHUP handler (set by
    # its try of the warm process) having reached the cold kernel's bwrap, where the grader ran under nohup.
    assert {key: value for key, value in fallback["status"].items() if value != cold["status"].get(key)} == {}, \
        cold["status"]
    assert fallback == cold


def test_two_warm_kernels_draw_different_random_numbers(probes):
    results, _, _ = probes
    draws = [results[name][0]["random"] for name in ("cold", "warm", "warm again")]
    assert len({draw[0] for draw in draws}) == 3 and len({draw[1] for draw in draws}) == 3, draws


def _ask(path, target, pidfd):
    """Send the warm process at path a request for a kernel in target's namespaces; its answer."""
    import socket

    request = {"groups": [], "limits": {"memory": 2 ** 31, "cpu": 60, "processes": 48, "file_size": 2 ** 26,
                                        "open_files": 256, "uid": sandbox.BASE_UID},
               "uid": sandbox.BASE_UID, "cwd": "/", "env": {}, "command": [], "target": target}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(30)
        connection.connect(path)
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [pidfd])
        return json.loads(sandbox._read_line(connection) or b"{}")


def test_the_keeper_enters_no_process_but_a_live_sandbox(tmp_path):
    """A request naming a process of the host, or one that has ended (its PID free for another), forks nothing."""
    os.chmod(tmp_path, 0o755)
    warm = zygote.start(str(tmp_path))
    process, path = warm
    host, other = subprocess.Popen(["sleep", "60"]), subprocess.Popen(["sleep", "60"])
    try:
        pidfd = os.pidfd_open(host.pid)
        answer = _ask(path, host.pid, pidfd)
        assert "pid" not in answer and "not a sandbox" in answer["error"], answer
        host.kill()
        host.wait()
        # As if host's PID had gone to another process since: the pidfd still names the one that ended.
        answer = _ask(path, other.pid, pidfd)
        assert "pid" not in answer and "ended" in answer["error"], answer
        os.close(pidfd)
    finally:
        for started in (host, other, process):
            started.kill()
            started.wait()


def test_the_warm_process_ends_with_the_process_that_started_it(tmp_path):
    os.chmod(tmp_path, 0o755)
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from coursetools import zygote; "
            "process, path = zygote.start(sys.argv[2]); print(process.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code, os.getcwd(), str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # alive
    parent.kill()
    parent.wait()
    for _ in range(100):
        if not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().split()[2] == "Z":
            break
        import time

        time.sleep(0.05)
    else:
        pytest.fail("the warm process outlived the process that started it")



def test_a_worker_whose_warm_process_died_starts_another(tmp_path):
    from types import SimpleNamespace

    from coursetools.grading.worker import GraderPlugin

    os.chmod(tmp_path, 0o755)
    deep = tmp_path / ("dask-scratch-space-" + "x" * 60) / ("worker-" + "y" * 40)  # deeper than a socket's path may be
    deep.mkdir(parents=True)
    plugin = GraderPlugin(True, sandbox.LIMITS)
    plugin.setup(SimpleNamespace(local_directory=str(deep), periodic_callbacks={}))
    try:
        first = list(plugin.prepare())
        assert first[-2] == "--zygote" and os.path.exists(first[-1])
        dead = plugin._warm
        dead.kill()
        dead.wait()
        second = plugin.prepare()
        assert second[:-2] == first[:-2] and second[-2] == "--zygote" and second[-1] != first[-1]
        assert plugin._warm.poll() is None and not os.path.exists(os.path.dirname(first[-1]))
    finally:
        plugin.teardown(None)
    assert not os.path.exists(os.path.dirname(second[-1]))


def test_a_kernel_that_cannot_be_made_ready_in_the_sandbox_is_refused_before_it_starts(tmp_path):
    """A failure in the kernel's preparation (here: its working folder is missing) reaches the launcher as
    a refusal, so that it starts the kernel cold, never as a kernel that died."""
    from coursetools.bwrap import bwrap_command

    os.chmod(tmp_path, 0o755)
    scratch, private = tmp_path / "scratch", tmp_path / "private"
    scratch.mkdir(mode=0o755)
    private.mkdir(mode=0o755)
    process, path = zygote.start(str(tmp_path))
    read_end, write_end = os.pipe()
    command = bwrap_command(["/bin/sh", "-c", "echo made; exec sleep infinity"], str(scratch), str(private),
                            sandbox.BASE_UID, 2 ** 26, {}, 2 ** 26)
    bwrap = subprocess.Popen([command[0], "--info-fd", str(write_end), *command[1:]], pass_fds=(write_end,),
                             stdout=subprocess.PIPE)
    try:
        os.close(write_end)
        target = sandbox._read_child_pid(read_end)
        assert bwrap.stdout.readline() == b"made\n"
        request = {"groups": [], "limits": {"memory": 2 ** 31, "cpu": 60, "processes": 48, "file_size": 2 ** 26,
                                            "open_files": 256, "uid": sandbox.BASE_UID},
                   "uid": sandbox.BASE_UID, "cwd": str(scratch / "missing"), "env": {"HOME": "/tmp/home"},
                   "command": [sys.executable, "-m", "ipykernel_launcher"]}
        with pytest.raises(zygote.ZygoteError, match="could not be made ready"):
            sandbox.start_kernel(path, request, target, bwrap.pid)
        request["cwd"] = str(scratch)  # and the same request with its folder: a kernel, started
        connection = sandbox.start_kernel(path, request, target, bwrap.pid)
        connection.close()
    finally:
        for started in (bwrap, process):
            started.kill()
            started.wait()
