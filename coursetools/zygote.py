"""Warm kernels: one process per worker with ipykernel and NumPy imported, forking each kernel into a sandbox.

Starting a kernel costs about 0.55 CPU-s, most of it importing ipykernel, IPython and NumPy; a
kernel forked from a process that has them imported is ready for about 0.2.  The sandbox itself is
still bubblewrap's, made afresh for every kernel by `coursetools/sandbox.py`: with `--zygote`, bwrap
runs only a placeholder (`sleep`), and this process forks the kernel into the placeholder's
namespaces, as `nsenter` and `setpriv` would:

1. The warm process (`serve`) never runs a notebook's code, never reads a submission, and reads
   nothing a kernel can write.  It listens on a Unix socket the worker made in a folder of its own
   (mode 0700), and answers only its own user id.
2. A request names the sandbox's first process by a pidfd, which the launcher took while that
   process was bwrap's child.  For each request the warm process forks a *keeper*, which opens the
   process's namespaces and root, checks through the pidfd that it is still alive (so its PID was not
   reused) and that they are not the keeper's own, takes the sandbox's limits, enters its IPC, UTS,
   network, cgroup, PID and mount namespaces, and takes its root.
3. The keeper forks the kernel: its process in the sandbox's PID namespace.  It joins the sandbox's
   cgroups, closes every file it inherited, clears the environment to the sandbox's, drops to the
   sandbox's user id with no capabilities in any set and no new privileges (checked in
   /proc/self/status before anything else runs), forgets what the warm process knew of the host's
   folders, reseeds the generators the warm process seeded, and starts ipykernel with the kernel
   spec's own arguments.  Should any of that fail, the keeper tells the launcher, which starts the
   kernel cold: only once the kernel is about to start ipykernel does the keeper give its PID.
4. The keeper stays outside the sandbox, invisible from it and outside its cgroups, to wait for the
   kernel and tell the launcher how it ended.

Used only where the grader is root (it needs to enter namespaces bwrap made as root); elsewhere, or
when the warm process is gone or slow, the launcher starts the kernel cold.  Every kernel is used for
one submission.  Forks share what a process draws once at its start: the hash seed, the addresses
of libraries (ASLR), the stack canary; that is safe while no warm process or keeper reads what a
kernel can write.  `tests/test_zygote.py` checks that a warm kernel sees what a cold one sees.
"""
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys

from coursetools.privileges import check, drop_privileges, libc

#: The namespaces a kernel enters, in this order: the PID namespace takes effect for the kernel the
#: keeper forks after it; the mount namespace comes last, as it takes the keeper's view of /proc.
NAMESPACES = (("ipc", 0x08000000), ("uts", 0x04000000), ("net", 0x40000000), ("cgroup", 0x02000000),
              ("pid", 0x20000000), ("mnt", 0x00020000))
#: bwrap always makes these anew: a target that shares one with the keeper is not a sandbox.
MUST_DIFFER = ("mnt", "pid", "net", "ipc")
#: What the warm process imports before any request: what every kernel imports as it starts and runs its
#: first cell (ipykernel's debugger, which imports debugpy, is a quarter of a forked kernel's CPU).
PRELOAD = ("numpy", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
           "IPython.extensions.storemagic", "sqlite3", "tornado.queues")
#: Seconds the launcher waits for the keeper's answer (it takes milliseconds) before starting cold.
ANSWER_WAIT = 10
#: The folder `python -m` put first on sys.path for the warm process: a kernel drops it.
_OWN_PATHS = ()


class ZygoteError(Exception):
    """A warm kernel could not be started (the launcher then starts it cold)."""


def enter(target, pidfd, limits):
    """In the keeper: enter the namespaces and root of target (a PID, and a pidfd of it), with limits.

    All but the cgroup namespace, which the kernel enters once it has joined the sandbox's cgroups
    (cgroup v2 lets no process move one from outside its cgroup namespace in); returns a file of it.
    """
    from coursetools.sandbox import set_limits

    own = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in MUST_DIFFER}
    files = {name: os.open(f"/proc/{target}/ns/{name}", os.O_RDONLY) for name, _ in NAMESPACES}
    root = os.open(f"/proc/{target}/root", os.O_RDONLY | os.O_DIRECTORY)
    try:  # alive now, so alive when its files were opened: they are its, not those of a process with its PID since
        signal.pidfd_send_signal(pidfd, 0)
    except ProcessLookupError:
        raise ZygoteError("the sandbox ended before its kernel started") from None
    if any(os.fstat(files[name]).st_ino == own[name] for name in MUST_DIFFER):
        raise ZygoteError("the target shares the keeper's namespaces: it is not a sandbox")
    set_limits(**limits)
    setns = libc().setns
    for name, kind in NAMESPACES:
        if name != "cgroup":
            check(setns(files[name], kind), f"entering the sandbox's {name} namespace")
            os.close(files[name])
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    return files["cgroup"]


def become_kernel(request, connection, groups, cgroup_namespace, started, imported):
    """In the kernel, forked in the sandbox: shed all the warm process held, then run ipykernel.  Never returns.

    groups: open files of the sandbox's cgroups' `cgroup.procs`, opened by the keeper before it left the
    host's view; cgroup_namespace: a file of the sandbox's cgroup namespace; started: a pipe to the
    keeper, written once all is done and just before ipykernel starts (until then, the launcher may
    still start the kernel cold); imported: what PRELOAD's imports put in the environment (`preload`).
    """
    try:
        uid, cwd, env, command = request["uid"], request["cwd"], request["env"], request["command"]
        request.clear()  # the host's PIDs and cgroup folders: nothing the kernel needs to hold
        for group in groups:  # before any of the submission's code: the sandbox's memory and CPU caps hold it
            group.write(str(os.getpid()))
            group.close()
        check(libc().setns(cgroup_namespace, NAMESPACES[3][1]), "entering the sandbox's cgroup namespace")
        os.setsid()
        os.close(connection.detach())
        null = os.open("/dev/null", os.O_RDWR)
        for number in (0, 1, 2):
            os.dup2(null, number)
        os.closerange(3, started)  # every file the warm process or the keeper held, whatever the limit
        os.closerange(started + 1, 2 ** 31 - 1)
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
        drop_privileges(uid)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env, PWD=cwd)  # the cold start's shell exports PWD
        # A cold kernel's imports set these as it starts, where its environment lacks them (debugpy's own)
        os.environ.update({name: value for name, value in imported.items() if name not in env})
        for name in [name for name in sys.modules if name == "coursetools" or name.startswith("coursetools.")]:
            del sys.modules[name]
        # As ipykernel_launcher leaves it: no folder of ours first (IPython puts the working folder back),
        # and no listing of the host's folders cached by the warm process's imports.
        sys.path[:] = [folder for folder in sys.path if folder not in _OWN_PATHS]
        sys.path_importer_cache.clear()
        importlib.invalidate_caches()
        sys.orig_argv = list(command)
        sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *command[3:]]
        import random

        import numpy

        random.seed()  # both were seeded once, in the warm process: every kernel would draw the same numbers
        numpy.random.seed()
        from ipykernel.kernelapp import IPKernelApp

        os.write(started, b"k")
        os.close(started)
        IPKernelApp.launch_instance()
    except BaseException:  # noqa: BLE001 (a kernel that cannot start ends here, never back in the warm process)
        os._exit(70)
    os._exit(0)


def keep(request, pidfd, connection, imported):
    """In the keeper: enter the sandbox, fork the kernel, tell the launcher its PID, then how it ended."""
    groups = [open(os.path.join(folder, "cgroup.procs"), "w") for folder in request["groups"]]
    cgroup_namespace = enter(request["target"], pidfd, request["limits"])
    os.close(pidfd)
    try:  # the launcher gave up (and started the kernel cold): fork nothing
        if connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
            return
    except BlockingIOError:
        pass
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        become_kernel(request, connection, groups, cgroup_namespace, write_end, imported)
    os.close(write_end)
    os.close(cgroup_namespace)
    for group in groups:
        group.close()
    started = os.read(read_end, 1) == b"k"  # or b"": it ended before ipykernel started
    os.close(read_end)
    if not started:
        os.waitid(os.P_PID, pid, os.WEXITED)
        raise ZygoteError("the kernel could not be made ready to start in the sandbox")
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    ended = os.waitid(os.P_PID, pid, os.WEXITED)  # not woken by a stop (a kernel may ptrace itself)
    code = ended.si_status if ended.si_code == os.CLD_EXITED else -ended.si_status
    connection.sendall(json.dumps({"status": code}).encode() + b"\n")


def preload():
    """Import PRELOAD; return what the imports added to or changed in the environment, {name: value}."""
    before = dict(os.environ)
    saved, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # debugpy warns on stderr as it loads; a cold kernel's stderr is its own, not the worker's
    try:
        for name in PRELOAD:
            importlib.import_module(name)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(quiet)
    return {name: value for name, value in os.environ.items() if before.get(name) != value}


def serve(listener, parent):
    """The warm process: import PRELOAD, then fork a keeper per request on listener; end when parent does."""
    imported = preload()
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
                _keeper(listener, watch, connection, imported)


def _keeper(listener, watch, connection, imported):
    listener.close()
    os.close(watch)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        connection.settimeout(ANSWER_WAIT)
        data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 1)
        while not data.endswith(b"\n"):
            more = connection.recv(1 << 16)
            if not more:
                raise ZygoteError("the launcher left before its request was whole")
            data += more
        if len(fds) != 1:
            raise ZygoteError("a request comes with the pidfd of the sandbox's first process")
        connection.settimeout(None)
        keep(json.loads(data), fds[0], connection, imported)
    except BaseException as problem:  # noqa: BLE001
        try:
            connection.sendall(json.dumps({"error": f"{type(problem).__name__}: {problem}"}).encode() + b"\n")
        except OSError:
            pass
        os._exit(1)
    os._exit(0)


def start(folder=None):
    """Start a warm process for this process's kernels; (the process, its socket's path), or None where it cannot.

    The socket is made here, in a folder of its own (mode 0700) under folder, by default in /dev/shm
    (a Unix socket's path must be short) named as `coursetools.grading.worker.remove_stale_folders`
    finds it once this process is gone; it is handed to the process as a file, so that no path of
    the host's shows in its command line (which its kernels inherit).  The process ends with this
    one.  Only where we are root: entering the namespaces bwrap made needs it.  Never raises: a
    worker without a warm process starts its kernels cold.
    """
    import subprocess
    import tempfile

    from coursetools.bwrap import kernel_environment, real_folder

    if os.geteuid() != 0:
        return None
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    prefix = f"coursetools-{os.getpid()}-" if folder or shm else f"coursetools-grade-{os.getpid()}-"
    try:
        private = tempfile.mkdtemp(prefix=prefix, dir=folder or shm)  # mode 0700
        path = os.path.join(private, "socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(16)
            # The kernels' own environment: NumPy and glibc read theirs (threads, arenas) when they load.
            process = subprocess.Popen(
                [real_folder(sys.executable), "-m", "coursetools.zygote", str(listener.fileno())],
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                env=kernel_environment(os.environ, private), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                pass_fds=[listener.fileno()], start_new_session=True)
    except OSError:
        return None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    if not ready or process.stdout.readline() != b"ready\n":
        process.kill()
        process.wait()
        return None
    return process, path


if __name__ == "__main__":
    _OWN_PATHS = (sys.path[0],)  # `python -m` from the repository: its folder
    serve(socket.socket(fileno=int(sys.argv[1])), os.getppid())
