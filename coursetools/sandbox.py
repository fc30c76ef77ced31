"""Kernel launcher: run a kernel command inside a bubblewrap sandbox.

    python coursetools/sandbox.py --connection-file FILE [limits] -- python -m ipykernel_launcher -f FILE

The kernel writes only into memory of its own that goes with the sandbox: its
working folder is a tmpfs over nbgrader's folder (nbgrader's files bound into it
read-only, the notebook left out: it holds the hidden tests), and /tmp, with its
home, is another.  The folder of FILE (the connection file and the kernel's
`ipc` sockets) is the only one it shares with the grader, who seals it once the
kernel is ready.  It sees the system's /usr, a few files of /etc and the Python
installation read-only, and nothing else of the machine: no network (its own
network namespace; the `ipc` sockets still reach the grader), no other processes
(its own PID namespace), no course files, no gradebook, no home folder.  It runs
as an unprivileged user id even when the grader runs as root, with limits on
memory, CPU time, processes, file size and open files; where the grader may make
cgroups (as root, on cgroup v1 or a delegated v2), also on the memory all the
sandbox's processes keep together, and on their CPU: they share one weight, the
same for every sandbox, and one core, however many processes or sessions they start.

The sandbox's file tree and environment are `coursetools.bwrap`'s.  With `--zygote`, bwrap runs a
placeholder and the kernel is forked into it from a warm process (`coursetools.zygote`), which saves
most of a kernel's start; without one, or when it cannot, the kernel starts cold in bwrap.

This file imports only the standard library (and `coursetools.bwrap` and `coursetools.cgroups`, which do
too), so that starting a kernel costs one small Python start; `coursetools.grading.kernel` runs it as a
script.  The launcher stays beside bwrap while the kernel lives and kills the sandbox if the grader's
worker dies (see `supervise`).
"""
import argparse
import contextlib
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys

if not __package__:  # run as a script (the kernel spec's command): the package's folder is not on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from coursetools.bwrap import BASE_UID, bwrap_command, kernel_environment, real_folder  # noqa: E402 (standard library only)
from coursetools.cgroups import SandboxGroups  # noqa: E402 (the standard library's only)

MiB = 2 ** 20
LIMITS = {  # the defaults; `python -m coursetools grade --help` names the options
    "memory": 2048 * MiB,   # address space of each process
    "cpu": 900,             # CPU seconds of each process
    "processes": 48,        # processes and threads of the sandbox's user id
    "file_size": 64 * MiB,  # largest file a process may write
    "open_files": 256,
    "tmp_size": 64 * MiB,   # the private /tmp, a tmpfs (the kernel's home is in it)
    "scratch_size": 64 * MiB,  # the working folder, a tmpfs over nbgrader's folder
    "total_memory": 2048 * MiB,  # resident memory of all the sandbox's processes together (a cgroup)
    "cpu_cores": 1,         # cores all the sandbox's processes together may use (a cgroup; 0: no cap)
}
#: Seconds to wait for a warm kernel's placeholder sandbox to be made before starting the kernel cold.
PLACEHOLDER_WAIT = 30
#: The launcher's exit status when the sandbox's memory cgroup killed the kernel.
OUT_OF_MEMORY = 125
def _own(path, uid):
    """Give path and everything under it to uid (when we are root)."""
    os.chown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def _count_processes(uid):
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
        except OSError:
            pass
    return count


def set_limits(memory, cpu, processes, file_size, open_files, uid):
    """Resource limits for this process and what it runs (they survive exec and setuid)."""
    if os.geteuid() != 0:  # the count of processes is per user id: ours has other processes too
        processes += _count_processes(os.getuid())
    for name, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu),
                        (resource.RLIMIT_NPROC, processes), (resource.RLIMIT_FSIZE, file_size),
                        (resource.RLIMIT_NOFILE, open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))


def _watch_parent():
    """A pidfd that becomes readable when the process that started us dies; exit if it is gone already."""
    expected = os.environ.get("JPY_PARENT_PID")  # jupyter_client sets it to the kernel manager's process
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    try:
        watch = os.pidfd_open(parent)
    except OSError:
        watch = None
    # Checked after pidfd_open: had the parent died before, we would have been given to another process.
    if watch is None or os.getppid() != parent:
        sys.exit("the process that started this kernel is gone")
    return watch


def _read_child_pid(info):
    """bwrap's --info-fd report: the PID (as we see it) of the sandbox's first process, or None."""
    text = b""
    while chunk := os.read(info, 4096):
        text += chunk
    os.close(info)
    match = re.search(rb'"child-pid"\s*:\s*(\d+)', text)
    return int(match.group(1)) if match else None


def supervise(argv, limits, parent, groups, quiet=False, warm=None):
    """Run bwrap as our child and stay beside it: when our parent dies, kill the whole sandbox.

    bwrap's --die-with-parent alone leaks: its first process inside the sandbox arms the
    parent-death signal only once it has set the sandbox up, so a grader killed during those
    milliseconds left the kernel running for good.  Killing that first process (PID 1 of the
    sandbox's PID namespace) makes the kernel kill every process in the sandbox.
    parent is a pidfd from `_watch_parent`; groups the sandbox's `SandboxGroups`, removed at the end.
    Our exit status is the kernel's (128 + N when it died of signal N), or OUT_OF_MEMORY when
    the memory cap killed it.

    warm: where argv runs a placeholder that prints a line once the sandbox is made, a function of
    the sandbox's first PID and bwrap's that starts the kernel in it and returns the socket that
    reports the kernel's exit (`start_kernel`).  Returns False, the sandbox gone, when it raised
    ZygoteError: the caller then starts the kernel cold.
    """
    read_end, write_end = os.pipe()

    def prepare():  # in the child, before bwrap starts: what we ignore, the sandbox must not
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        groups.join()
        set_limits(**limits)

    silent = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
    if warm:
        silent["stdout"] = subprocess.PIPE
    child = subprocess.Popen([argv[0], "--info-fd", str(write_end), *argv[1:]], pass_fds=(write_end,),
                             preexec_fn=prepare, **silent)
    os.close(write_end)
    inner = _read_child_pid(read_end)  # written right after bwrap clones it, before any setup

    def end_sandbox():
        for pid in (inner, child.pid):
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        child.wait()

    def kill_all(*_):
        end_sandbox()
        groups.remove()
        sys.exit(1)

    previous = {number: signal.signal(number, kill_all) for number in (signal.SIGTERM, signal.SIGHUP)}
    done = os.pidfd_open(child.pid)
    kernel = None
    if warm:
        from coursetools.zygote import ZygoteError

        made, _, _ = select.select([parent, child.stdout], [], [], PLACEHOLDER_WAIT)
        if parent in made:
            kill_all()
        try:
            if inner is None or not made or not child.stdout.readline():  # its line: the sandbox is made
                raise ZygoteError("the placeholder sandbox did not start")
            kernel = warm(inner, child.pid)
        except ZygoteError:
            end_sandbox()
            for number, handler in previous.items():  # as they were: the cold kernel's bwrap inherits them
                signal.signal(number, handler)
            return False
        done = kernel
    ready, _, _ = select.select([parent, done], [], [])
    if parent in ready:
        kill_all()
    if kernel is not None:
        status = exit_status(kernel)
        end_sandbox()
    else:
        status = child.wait()
        status = 128 - status if status < 0 else status
    killed = status in (128 + signal.SIGKILL, -signal.SIGKILL) and groups.out_of_memory()
    groups.remove()
    sys.exit(OUT_OF_MEMORY if killed else status)


def start_kernel(path, request, target, bwrap):
    """Ask the warm process at path for a kernel in the sandbox whose first process is target.

    bwrap: the PID of bwrap, our child, not yet reaped; target must be its child.  Returns the socket
    that reports the kernel's end (`exit_status`).  Raises ZygoteError when there is no warm process or
    it could not start the kernel within ANSWER_WAIT; nothing of the sandbox's has run then, and the
    launcher may start the kernel cold.
    """
    from coursetools.zygote import ANSWER_WAIT, ZygoteError

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        pidfd = os.pidfd_open(target)
        with open(f"/proc/{target}/stat") as f:  # checked after pidfd_open: the pidfd is of bwrap's child
            if int(f.read().rsplit(")", 1)[1].split()[1]) != bwrap:
                raise ZygoteError("the sandbox's first process is gone")
        connection.settimeout(ANSWER_WAIT)
        connection.connect(path)
        socket.send_fds(connection, [json.dumps({**request, "target": target}).encode() + b"\n"], [pidfd])
        os.close(pidfd)
        answer = json.loads(_read_line(connection) or b"{}")
    except (OSError, ValueError, ZygoteError) as problem:
        connection.close()
        raise ZygoteError(f"no warm kernel from {path}: {problem}") from None
    if "pid" not in answer:
        connection.close()
        raise ZygoteError(answer.get("error", "the warm process answered nothing"))
    connection.settimeout(None)
    return connection


def exit_status(connection):
    """Once connection (from start_kernel) is readable: the kernel's exit status (128 + N for signal N)."""
    try:
        answer = json.loads(_read_line(connection) or b"{}")
    except (OSError, ValueError):
        answer = {}
    code = answer.get("status", 1)
    return 128 - code if code < 0 else code


def _read_line(connection):
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        line += chunk
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--private", help="the kernel's own folder (connection file, sockets)")
    where.add_argument("--connection-file", help="the kernel's connection file: its folder is the kernel's own")
    parser.add_argument("--home-template", help="a folder to copy into the kernel's home first (caches)")
    parser.add_argument("--keep-home", action="store_true", help="the home in the private folder, kept after")
    parser.add_argument("--quiet", action="store_true", help="the kernel's own stdout and stderr go nowhere")
    parser.add_argument("--slot", type=int, default=0, help="the worker's number: the kernel runs as uid 65534-slot")
    for name, value in LIMITS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=value)
    parser.add_argument("--no-cpu-group", action="store_true",
                        help="no cpu cgroup: the sandbox's processes compete one by one (a control for benchmarks)")
    parser.add_argument("--zygote", help="the socket of a warm process (coursetools/zygote.py) to fork the kernel from")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel; it arrives as a message
    parent = _watch_parent()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if command and os.path.isabs(command[0]):
        command = [real_folder(command[0]), *command[1:]]
    scratch = os.getcwd()
    private = os.path.realpath(options.private or os.path.dirname(os.path.abspath(options.connection_file)))
    uid = BASE_UID - options.slot
    if options.keep_home:
        os.makedirs(os.path.join(private, "home"), exist_ok=True)
    if os.geteuid() == 0:
        # The kernel may add its sockets to the private folder, which stays ours: the grader seals it
        # (read-only for the kernel, SandboxedKernelManager.seal) before the notebook's first cell.
        os.chmod(private, 0o1777)
        for name in os.listdir(private):
            if name == "home":
                _own(os.path.join(private, name), uid)
            else:
                os.chmod(os.path.join(private, name), 0o644)
    limits = {"memory": options.memory, "cpu": options.cpu, "processes": options.processes,
              "file_size": options.file_size, "open_files": options.open_files, "uid": uid}
    sandbox = (scratch, private, uid, options.tmp_size, dict(os.environ), options.scratch_size,
               options.home_template, options.keep_home)
    groups = SandboxGroups(options.total_memory, options.cpu_cores, cpu=not options.no_cpu_group)
    # Warm: where the warm process's Python runs ipykernel_launcher (its arguments go to the kernel as they are).
    if options.zygote and os.geteuid() == 0 and command[1:3] == ["-m", "ipykernel_launcher"]:
        env = kernel_environment(os.environ, private, options.keep_home)
        python = shutil.which(command[0], path=env["PATH"])
        if python and real_folder(python) == real_folder(sys.executable):
            request = {"groups": list(dict.fromkeys(groups.folders.values())), "limits": limits, "uid": uid,
                       "cwd": scratch, "env": env, "command": command}
            placeholder = bwrap_command(["/bin/sh", "-c", "echo made; exec sleep infinity"], *sandbox)
            supervise(placeholder, limits, parent, groups, options.quiet,
                      warm=lambda inner, bwrap: start_kernel(options.zygote, request, inner, bwrap))
    supervise(bwrap_command(command, *sandbox), limits, parent, groups, options.quiet)


if __name__ == "__main__":
    main()
