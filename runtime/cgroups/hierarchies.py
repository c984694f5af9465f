"""Which cgroup hierarchies are mounted where, from /proc/self/mountinfo."""

import os

from runtime.records import Record


class Mount(Record):
    __slots__ = ("path", "fstype", "options")

    def __init__(self, path: str, fstype: str, options: frozenset[str]):
        self.path = path
        self.fstype = fstype
        # Super options: for v1 cgroups, the hierarchy's controllers among others.
        self.options = options


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo octal.
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")


def mounts(mountinfo: str = "/proc/self/mountinfo") -> list[Mount]:
    result = []
    with open(mountinfo) as f:
        for line in f:
            ours, _, theirs = line.partition(" - ")
            fstype, _source, options = theirs.split()[:3]
            result.append(Mount(_unescape(ours.split()[4]), fstype, frozenset(options.split(","))))
    return result


def v1_controllers(mountpoint: str, wanted) -> dict[str, str]:
    """Controller -> mount path for the v1 hierarchies mounted directly under mountpoint.

    Co-mounted controllers (`cpu,cpuacct` on most distributions) map to the
    same path.
    """
    found = {}
    for mount in mounts():
        if mount.fstype != "cgroup" or os.path.dirname(mount.path) != mountpoint.rstrip("/"):
            continue
        for controller in wanted:
            if controller in mount.options:
                found.setdefault(controller, mount.path)
    return found


def is_cgroup2(mountpoint: str) -> bool:
    mountpoint = mountpoint.rstrip("/") or "/"
    kinds = [m.fstype for m in mounts() if m.path == mountpoint]
    # Of mounts stacked on one path, the last is the visible one.
    return bool(kinds) and kinds[-1] == "cgroup2"
