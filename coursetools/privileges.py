"""Dropping root for good, without exec: what `setpriv --reuid --regid --clear-groups --inh-caps=-all
--bounding-set=-all --no-new-privs` does, for a process forked from the warm process (`coursetools.zygote`),
checked afterwards in /proc/self/status.  Standard library only (ctypes for prctl and capset).
"""
import ctypes
import os

PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 4, 24, 38, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class PrivilegeError(Exception):
    """Privileges were not dropped as asked: the process must not go on."""


def libc():
    return ctypes.CDLL(None, use_errno=True)


def check(result, what):
    """Raise OSError, naming what failed, unless a libc call returned 0."""
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges(uid):
    """Become uid, in no supplementary group, with no capability in any set and no way to gain one."""
    libc_ = libc()
    check(libc_.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(libc_.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for number in range(last + 1):  # needs CAP_SETPCAP: before the user id changes
        check(libc_.prctl(PR_CAPBSET_DROP, number, 0, 0, 0), f"dropping capability {number}")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    check(libc_.capset(ctypes.byref(header), data), "clearing capabilities")
    _verify(uid)
    # A change of user id without exec leaves the process undumpable; a cold kernel is dumpable (it
    # may read its own /proc/self/environ).  Safe now: it holds nothing a process of uid may not see.
    check(libc_.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")


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
        raise PrivilegeError(f"privileges not dropped: {', '.join(wrong)}")
