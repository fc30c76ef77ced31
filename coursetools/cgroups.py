"""A sandbox's cgroups: the memory all its processes keep together, and the CPU they share.

Made by the kernel launcher (`coursetools/sandbox.py`) before bubblewrap starts, where the grader
may make cgroups (as root, on cgroup v1 or a delegated v2); read by the grader to learn whether
the kernel passed the memory cap.  Imports only the standard library: the launcher runs as a script.
"""
import contextlib
import os
import signal
import time

#: A sandbox's cgroups (memory, cpu) are named after its launcher's PID.
CGROUP_PREFIX = "coursetools-sandbox-"
#: For each controller a sandbox has a group of: the cgroup v1 file that shows it is there.
V1_CONTROLS = {"memory": "memory.limit_in_bytes", "cpu": "cpu.shares"}


def find_cgroup(controller):
    """The cgroup folder under which this process may make groups of controller ("memory" or "cpu"),
    and the cgroup version; or None."""
    try:
        with open("/proc/self/cgroup") as lines:
            entries = [line.rstrip("\n").split(":", 2) for line in lines]
    except OSError:
        return None
    for _, controllers, path in entries:
        if controller in controllers.split(","):  # cgroup v1: a hierarchy of its own (cpu is often "cpu,cpuacct")
            for mount in dict.fromkeys((controller, controllers)):
                folder = os.path.normpath(os.path.join("/sys/fs/cgroup", mount, path.lstrip("/")))
                if os.path.isfile(os.path.join(folder, V1_CONTROLS[controller])) and os.access(folder, os.W_OK):
                    return folder, 1
    for _, controllers, path in entries:
        if controllers == "":  # cgroup v2: the controller must be handed down to our children
            folder = os.path.normpath(os.path.join("/sys/fs/cgroup", path.lstrip("/")))
            with contextlib.suppress(OSError), open(os.path.join(folder, "cgroup.subtree_control")) as handed:
                if controller in handed.read().split() and os.access(folder, os.W_OK):
                    return folder, 2
    return None


def memory_cgroup():
    """Where a sandbox's memory group goes, and the cgroup version; None if this process may make none."""
    return find_cgroup("memory")


def cpu_cgroup():
    """Where a sandbox's cpu group goes, and the cgroup version; None if this process may make none."""
    return find_cgroup("cpu")


class SandboxGroups:
    """The cgroups of one sandbox, named after its launcher, which joins them before bwrap starts.

    A memory group: its processes together may keep at most total_memory bytes resident.  A cpu
    group: they share one weight, the same for every sandbox, however many processes or sessions
    they start, and together use at most cores cores (0: no cap).  On cgroup v2 both are one group.
    Where a group cannot be made (not root, no such controller) it is left out, and only the
    per-process limits apply; `folders` says which controllers have one.
    """

    def __init__(self, total_memory, cores=1, cpu=True):
        self.folders, self.versions = {}, {}
        for controller in ("memory", "cpu") if cpu else ("memory",):
            found = find_cgroup(controller)
            if found is None:
                continue
            folder, version = os.path.join(found[0], f"{CGROUP_PREFIX}{os.getpid()}"), found[1]
            made = False
            try:
                if folder not in self.folders.values():  # cgroup v2: one group for every controller
                    os.mkdir(folder)
                    made = True
                for number, (name, value) in enumerate(_settings(controller, version, total_memory, cores)):
                    try:
                        _write(folder, name, value)
                    except OSError:
                        if number == 0:  # the cap itself; swap accounting or CPU bandwidth may be off
                            raise
                self.folders[controller], self.versions[controller] = folder, version
            except OSError:
                if made:
                    _remove_group(folder)

    def join(self):
        """Put the calling process (and so all it starts) in the groups."""
        for folder in dict.fromkeys(self.folders.values()):
            _write(folder, "cgroup.procs", os.getpid())

    def out_of_memory(self):
        """Whether the kernel killed a process of the memory group for passing the cap."""
        if "memory" not in self.folders:
            return False
        name = "memory.oom_control" if self.versions["memory"] == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.folders["memory"], name)) as f:
                counts = dict(line.split() for line in f if len(line.split()) == 2)
            return int(counts.get("oom_kill", 0)) > 0
        return False

    def remove(self):
        """Kill what is left in the groups and remove them."""
        for folder in dict.fromkeys(self.folders.values()):
            _remove_group(folder)
        self.folders = {}


def _settings(controller, version, total_memory, cores, period=100000):
    """What to write into a sandbox's group of controller, the cap itself first."""
    if controller == "memory":
        return ([("memory.limit_in_bytes", total_memory), ("memory.memsw.limit_in_bytes", total_memory)]
                if version == 1 else [("memory.max", total_memory), ("memory.swap.max", 0)])
    quota = cores * period if cores > 0 else None  # CPU time per period: cores cores at most
    # The weight is the default one, but written: every sandbox the same, whatever its parent's.
    return ([("cpu.shares", 1024), ("cpu.cfs_period_us", period), ("cpu.cfs_quota_us", quota or -1)]
            if version == 1 else [("cpu.weight", 100), ("cpu.max", f"{quota or 'max'} {period}")])


def _write(folder, name, value):
    with open(os.path.join(folder, name), "w") as control:
        control.write(str(value))


def _remove_group(folder, tries=100):
    """Kill the processes of a cgroup and remove it (it can go only once they are gone)."""
    for _ in range(tries):
        try:
            with open(os.path.join(folder, "cgroup.procs")) as f:
                left = [int(pid) for pid in f.read().split()]
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            os.rmdir(folder)
            return
        except OSError:
            time.sleep(0.02)


def remove_orphaned_caps():
    """Remove the memory and cpu cgroups of launchers that are gone (killed, so they could not remove their own).

    The grader has jupyter_client stop each kernel at once, by killing the launcher's process
    group: that leaves the sandbox's groups behind, empty.  A group whose launcher runs is left alone.
    """
    parents = {found[0] for found in (memory_cgroup(), cpu_cgroup()) if found is not None}
    for parent in sorted(parents):
        with contextlib.suppress(OSError):
            for name in os.listdir(parent):
                launcher = name[len(CGROUP_PREFIX):]
                if not name.startswith(CGROUP_PREFIX) or not launcher.isdigit():
                    continue
                try:
                    os.kill(int(launcher), 0)
                except ProcessLookupError:
                    _remove_group(os.path.join(parent, name), tries=5)
                except OSError:
                    pass
