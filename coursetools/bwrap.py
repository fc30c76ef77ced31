"""The sandbox's file tree and environment: the bwrap command line that `coursetools/sandbox.py` runs.

Standard library only: the launcher imports it on every kernel's start.
"""
import os
import sys

#: The user id kernels run as when the grader is root: "nobody" (65534) for the first
#: worker, 65533, 65532, ... (ids no account owns) for the others, so that parallel
#: kernels do not share one count of processes.
BASE_UID = 65534
#: Environment variables a kernel keeps; everything else of the grader's environment is dropped.
KEEP_ENV = ("NBGRADER_EXECUTION", "LANG", "LANGUAGE", "TZ", "MPLBACKEND")
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
       "/etc/group", "/etc/nsswitch.conf", "/etc/fonts", "/etc/mime.types")


def python_folders():
    """The folders of this Python installation and environment, outside /usr."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
               os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    folders = sorted(os.path.realpath(f) for f in folders)
    return [f for f in folders if f != "/usr" and not f.startswith("/usr/")]


def real_folder(path):
    """path with the links of its folders resolved, not of the file itself.

    A virtual environment reached through a link (`venv -> /somewhere/venv`) exists in the sandbox
    only under its real path; its python must keep its own name there, or it would not find the
    environment (a venv's python is itself a link to the base Python).
    """
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _parents(path):
    """bwrap arguments that make path's parent folders traversable (bwrap would make them 0700)."""
    parents = []
    folder = os.path.dirname(path)
    while folder not in ("/", ""):
        parents.insert(0, folder)
        folder = os.path.dirname(folder)
    return [arg for folder in parents for arg in ("--perms", "0755", "--dir", folder)]


#: The kernel's home, in its private /tmp (the template, if any, is copied in first).
HOME = "/tmp/home"
HOME_TEMPLATE = "/run/home-template"


def bwrap_command(command, scratch, private, uid, tmp_size, environment, scratch_size, home_template=None,
                  keep_home=False):
    """The bwrap command line that runs command in scratch, with private as its own folder.

    What the kernel writes stays in memory of its own, bounded, and goes with the sandbox: the
    working folder is a tmpfs of scratch_size bytes over scratch, in which nbgrader's files
    (but no notebook: it holds the hidden tests) are bound read-only, and /tmp, with the home
    in it, a tmpfs of tmp_size bytes.  Only private (the connection file and the `ipc` sockets)
    is shared with the grader; keep_home puts the home there too (to warm caches once).
    """
    root = os.geteuid() == 0
    args = ["bwrap", "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if not root:  # unprivileged bwrap: a user namespace, where we look like nobody
        args += ["--unshare-user", "--uid", str(BASE_UID), "--gid", str(BASE_UID)]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--perms", "0755", "--dir", "/etc"]  # bwrap would make it 0700: the kernel's user could read none of it
    for path in ETC:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp"]
    # After the private /tmp, so that an environment under /tmp (a CI checkout) is not hidden by it.
    for path in python_folders():
        args += [*_parents(path), "--ro-bind", path, path]
    args += [*_parents(private), "--bind", private, private]
    args += [*_parents(scratch), "--perms", "1777", "--size", str(scratch_size), "--tmpfs", scratch]
    # What nbgrader put in the working folder (helper modules, the learner's files) stays read-only;
    # the notebooks are not there at all: nbgrader's copy already holds the hidden tests.
    for entry in sorted(os.listdir(scratch)):
        path = os.path.join(scratch, entry)
        if not entry.endswith(".ipynb"):
            args += ["--ro-bind", path, path]
    if home_template:  # its folder traversable: bwrap would make /run 0700, and the kernel's user could copy nothing
        args += [*_parents(HOME_TEMPLATE), "--ro-bind", home_template, HOME_TEMPLATE]
    args += ["--chdir", scratch, "--clearenv"]
    for key, value in sorted(kernel_environment(environment, private, keep_home).items()):
        args += ["--setenv", key, value]
    if not keep_home:  # the home, made in the private /tmp (from the template: caches)
        copy = f'cp -R {HOME_TEMPLATE}/. "$HOME"/ 2>/dev/null; ' if home_template else ""
        command = ["/bin/sh", "-c", f'mkdir -p "$HOME" && {copy}exec "$@"', "sh", *command]
    if root:  # drop to an id that owns nothing here, with no capabilities left
        command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                   "--bounding-set=-all", "--no-new-privs", "--", *command]
    return [*args, "--", *command]


def kernel_environment(environment, private, keep_home=False):
    """The environment a kernel runs with: a few of environment's variables, and the sandbox's own."""
    home = os.path.join(private, "home") if keep_home else HOME
    env = {key: value for key, value in (environment or {}).items() if key in KEEP_ENV or key.startswith("LC_")}
    env.update({
        "HOME": home, "TMPDIR": "/tmp", "PATH": f"{os.path.dirname(real_folder(sys.executable))}:/usr/bin:/bin",
        "MPLCONFIGDIR": os.path.join(home, ".config", "matplotlib"), "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    return env
