"""Capability sets of a container process: Docker's default 14, nothing more.

`apply_default()` is one of the last steps before execve in every exec'd
process; a container's init does its first two steps (`drop_bounding`)
ahead and the rest (`reduce_to`) last. The order matters:

1. drop every capability not kept from the bounding set (needs CAP_SETPCAP,
   so it comes while the process still has all of root's capabilities);
2. clear the ambient set;
3. setgroups to `groups` (default none, so the runtime's supplementary
   groups never leak into the container), then, if a user is given, setgid
   and setuid in that order (setgid after setuid would need the CAP_SETGID
   that the uid change takes away).
   PR_SET_KEEPCAPS stays off on purpose: a switch from root to a non-root
   uid then empties permitted and effective, which is what Docker's
   `--user` ends with after execve anyway, and nothing privileged runs
   between here and execve;
4. capset effective = permitted = the kept set for uid 0, all empty for any
   other uid; inheritable is always empty;
5. PR_SET_NO_NEW_PRIVS, which also lets the unprivileged seccomp load follow.

Inheritable stays empty as in Docker since 20.10.14 (CVE-2022-24769): a
non-empty inheritable set lets a non-root user gain those capabilities by
executing a file that carries inheritable file capabilities.
"""

import functools
import os

from runtime.errors import InvalidArgument
from runtime.linux import syscalls

CAP_NUMBERS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}

DEFAULT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def mask(names) -> int:
    """The 64-bit set of capability names; InvalidArgument for an unknown name."""
    bits = 0
    for name in names:
        key = name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}"
        if key not in CAP_NUMBERS:
            raise InvalidArgument(f"unknown capability: {name}")
        bits |= 1 << CAP_NUMBERS[key]
    return bits


def _read_last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


# The running kernel may know capabilities newer than CAP_NUMBERS; the
# bounding set must lose those too. Read once at import: apply_default runs
# in a child right after fork, where every file read costs a container start.
LAST_CAP = _read_last_cap()


@functools.cache
def _plan(keep: tuple[str, ...]) -> tuple[int, tuple[int, ...]]:
    """(kept mask, capabilities to drop from the bounding set) for a keep list."""
    kept = mask(keep)
    return kept, tuple(cap for cap in range(LAST_CAP + 1) if not kept & (1 << cap))


# Planned here, in the parent: the child after fork pays for every Python
# object it touches first (copy-on-write faults), so it should find this ready.
_plan(DEFAULT_CAPS)


def drop_bounding(keep=DEFAULT_CAPS) -> None:
    """Steps 1 and 2. They change only what an execve can gain, not what
    this process may do now, so a spare container init does them before
    it knows its container (the kept set is the same for every container)."""
    _, dropped = _plan(tuple(keep))
    for cap in dropped:
        syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)


def reduce_to(keep=DEFAULT_CAPS, uid: int | None = None, gid: int | None = None,
              groups: list[int] | None = None) -> None:
    """Steps 3 to 5, after `drop_bounding`."""
    kept, _ = _plan(tuple(keep))
    os.setgroups(groups or [])
    if gid is not None:
        os.setresgid(gid, gid, gid)
    if uid is not None:
        os.setresuid(uid, uid, uid)
    effective = kept if os.geteuid() == 0 else 0
    syscalls.capset(effective, effective, 0)
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)


def apply_default(keep=DEFAULT_CAPS, uid: int | None = None, gid: int | None = None,
                  groups: list[int] | None = None) -> None:
    """Reduce the calling process to `keep`, optionally as uid:gid; see the module docstring for the order."""
    drop_bounding(keep)
    reduce_to(keep, uid, gid, groups)
