"""Warm kernels: one process per worker with ipykernel and NumPy imported, forking each kernel into a sandbox.

Starting a kernel costs about 0.55 CPU-s, most of it importing ipykernel, IPython and NumPy; a
kernel forked from a process that has them imported is ready for about 0.2.  The sandbox itself is
still bubblewrap's, made afresh for every kernel by `coursetools/sandbox.py`: with `--zygote`, bwrap
runs only a placeholder (`sleep`), and this process forks the kernel into the placeholder's
namespaces, as `nsenter` and `setpriv` would:

1. The warm process (`serve`) never runs a notebook's code and never reads a submission.  It listens
   on a Unix socket in the worker's own folder (mode 0700, and it answers only its own user id).
2. For each request it forks a *keeper*, which joins the sandbox's cgroups, takes its resource
   limits, enters its IPC, UTS, network, cgroup, PID and mount namespaces, and takes its root.
3. The keeper forks the kernel: the first process of this submission in the sandbox's PID
   namespace.  It closes every file it inherited, clears the environment to the sandbox's, drops to
   the sandbox's user id with no capabilities in any set and no new privileges (checked in
   /proc/self/status before anything else runs), reseeds the generators the warm process seeded,
   and starts ipykernel.
4. The keeper stays outside the sandbox, invisible from it, to wait for the kernel and tell the
   launcher its exit status.

Used only where the grader is root (it needs to enter namespaces bwrap made as root); elsewhere, or
when the warm process is gone, the launcher starts the kernel cold, as before.  Every kernel is
used for one submission.  `tests/test_zygote.py` checks that a warm kernel sees what a cold one sees.
"""
import ctypes
import importlib.util
import json
import os
import select
import signal
import socket
import sys

#: The namespaces a kernel enters, in this order: the PID namespace takes effect for the kernel the
#: keeper forks after it; the mount namespace comes last, as it takes the keeper's view of /proc.
NAMESPACES = (("ipc", 0x08000000), ("uts", 0x04000000), ("net", 0x40000000), ("cgroup", 0x02000000),
              ("pid", 0x20000000), ("mnt", 0x00020000))
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: What the warm process imports before any request: most of a kernel's start.
PRELOAD = ("numpy", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
#: The folders this script put on sys.path (its own, and the repository's): a kernel drops them.
_OWN_PATHS = ()


class ZygoteError(Exception):
    """A warm kernel could not be started (the launcher then starts it cold)."""


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges(uid):
    """Become uid, in no supplementary group, with no capability in any set and no way to gain one."""
    libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for number in range(last + 1):  # needs CAP_SETPCAP: before the user id changes
        _check(libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0), f"dropping capability {number}")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "clearing capabilities")
    _verify(uid)


def _verify(uid):
    """Refuse to go on unless /proc/self/status shows uid everywhere and every capability set empty."""
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    ids = {str(uid)}
    wrong = [key for key in ("Uid", "Gid") if set(status[key].split()) != ids]
    wrong += [key for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb") if int(status.get(key, "0"), 16)]
    if status.get("NoNewPrivs", "").strip() != "1" or status.get("Groups", "").strip():
        wrong.append("NoNewPrivs/Groups")
    if wrong:
        raise ZygoteError(f"privileges not dropped: {', '.join(wrong)}")


def enter(target, groups, limits):
    """In the keeper: join target's cgroups (folders), take limits, enter its namespaces and root."""
    from coursetools.sandbox import set_limits

    files = {name: os.open(f"/proc/{target}/ns/{name}", os.O_RDONLY) for name, _ in NAMESPACES}
    root = os.open(f"/proc/{target}/root", os.O_RDONLY | os.O_DIRECTORY)
    for folder in groups:  # while the host's cgroup folders are still in view
        with open(os.path.join(folder, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    set_limits(**limits)
    libc = _libc()
    for name, kind in NAMESPACES:
        _check(libc.setns(files[name], kind), f"entering the sandbox's {name} namespace")
        os.close(files[name])
    os.fchdir(root)
    os.chroot(".")
    os.close(root)


def become_kernel(request, connection):
    """In the kernel, forked in the sandbox: shed all the warm process held, then run ipykernel.  Never returns."""
    try:
        os.setsid()
        fd = connection.detach()
        os.close(fd)
        null = os.open("/dev/null", os.O_RDWR)
        for number in (0, 1, 2):
            os.dup2(null, number)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for number in range(1, signal.NSIG):
            if number not in (signal.SIGKILL, signal.SIGSTOP):
                try:
                    signal.signal(number, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for number in (signal.SIGPIPE, signal.SIGXFSZ):  # as a fresh Python leaves them
            signal.signal(number, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.umask(0o022)
        drop_privileges(request["uid"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"], PWD=request["cwd"])  # the cold start's shell exports PWD
        for name in [name for name in sys.modules if name == "coursetools" or name.startswith("coursetools.")]:
            del sys.modules[name]
        # As ipykernel_launcher leaves it: no folder of ours first (IPython puts the working folder back).
        sys.path[:] = [folder for folder in sys.path if folder not in _OWN_PATHS]
        sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, "-f", request["connection_file"]]
        import random

        import numpy

        random.seed()  # both were seeded once, in the warm process: every kernel would draw the same numbers
        numpy.random.seed()
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance()
    except BaseException:  # noqa: BLE001 (a kernel that cannot start ends here, never back in the warm process)
        os._exit(70)
    os._exit(0)


def keep(request, connection):
    """In the keeper: enter the sandbox, fork the kernel, tell the launcher its PID, then its exit status."""
    enter(request["target"], request["groups"], request["limits"])
    pid = os.fork()
    if pid == 0:
        become_kernel(request, connection)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    connection.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def serve(path, parent):
    """The warm process: import PRELOAD, listen at path, fork a keeper per request; end when parent does."""
    for name in PRELOAD:
        importlib.import_module(name)
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    listener.bind(path)
    os.umask(old)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the system
    watch = os.pidfd_open(parent)
    print("ready", flush=True)
    quiet = os.open(os.devnull, os.O_WRONLY)  # nobody reads the pipe after this line: it must not fill
    os.dup2(quiet, 1)
    os.close(quiet)
    while True:
        ready, _, _ = select.select([listener, watch], [], [])
        if watch in ready:
            return
        connection, _ = listener.accept()
        with connection:
            peer = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
            if int.from_bytes(peer[4:8], sys.byteorder) != os.geteuid():
                continue
            if os.fork() == 0:
                _keeper(listener, watch, connection)


def _keeper(listener, watch, connection):
    listener.close()
    os.close(watch)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        connection.settimeout(30)
        request = json.loads(connection.makefile("rb").readline())
        connection.settimeout(None)
        keep(request, connection)
    except BaseException as problem:  # noqa: BLE001
        try:
            connection.sendall(json.dumps({"error": f"{type(problem).__name__}: {problem}"}).encode() + b"\n")
        except OSError:
            pass
        os._exit(1)
    os._exit(0)


def start_kernel(path, request, timeout=30):
    """In the launcher: ask the warm process at path for a kernel; (socket that reports its status, its PID).

    Raises ZygoteError when there is no warm process or it could not start the kernel; nothing of the
    sandbox's has run then, and the launcher may start the kernel cold.
    """
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(path)
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(_read_line(connection) or b"{}")
    except (OSError, ValueError) as problem:
        connection.close()
        raise ZygoteError(f"no warm kernel from {path}: {problem}") from None
    if "pid" not in answer:
        connection.close()
        raise ZygoteError(answer.get("error", "the warm process answered nothing"))
    connection.settimeout(None)
    return connection, answer["pid"]


def exit_status(connection):
    """In the launcher, once connection is readable: the kernel's exit status (128 + N for signal N)."""
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


def start(folder):
    """Start a warm process for this process's kernels; (the process, its socket), or None where it cannot run.

    It listens in folder/warm (made mode 0700) and ends with this process.  Only where we are root:
    entering the namespaces bwrap made needs it.
    """
    import subprocess

    from coursetools.bwrap import kernel_environment, real_folder

    if os.geteuid() != 0:
        return None
    private = os.path.join(folder, "warm")
    os.makedirs(private, mode=0o700, exist_ok=True)
    os.chmod(private, 0o700)
    path = os.path.join(private, "socket")
    # The kernels' own environment: NumPy and glibc read theirs (threads, arenas) when they load.
    environment = kernel_environment(os.environ, private)
    process = subprocess.Popen([real_folder(sys.executable), os.path.abspath(__file__), "--socket", path],
                               cwd=private, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               start_new_session=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    if not ready or process.stdout.readline() != b"ready\n":
        process.kill()
        process.wait()
        return None
    return process, path


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="where to listen (in a folder only this user may enter)")
    options = parser.parse_args()
    serve(options.socket, os.getppid())


if __name__ == "__main__":
    if not __package__:  # run as a script: the repository's folder, for coursetools.sandbox
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        _OWN_PATHS = tuple(sys.path[:2])
    main()
