"""Cgroup drivers: v1 (including hybrid hosts) and unified v2, behind one interface.

`driver()` looks at the host once and returns the driver that fits; both
offer create/attach/procs/update/stats/freeze/thaw/frozen/oom_kills/
kill_all/destroy/paths for cgroups named under one parent.
"""

from runtime.cgroups.hierarchies import is_cgroup2
from runtime.cgroups.limits import Limits

__all__ = ["Limits", "V1Driver", "V2Driver", "detect", "driver"]


def _driver_class(version: str):
    # Each host needs one driver: the other's module (v2's eBPF device
    # program and its ctypes types) is imported only when asked for.
    if version == "v2":
        # See above: only the host's own driver is imported.
        from runtime.cgroups.v2 import V2Driver

        return V2Driver
    # As above.
    from runtime.cgroups.v1 import V1Driver

    return V1Driver


def __getattr__(name: str):
    if name in ("V1Driver", "V2Driver"):
        return _driver_class(name[:2].lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def detect(mountpoint: str = "/sys/fs/cgroup") -> str:
    """ "v2" when mountpoint is a cgroup2 mount offering the controllers we
    need, else "v1" (a hybrid host's cgroup2 at <mountpoint>/unified has
    none of them)."""
    if not is_cgroup2(mountpoint):
        return "v1"
    try:
        with open(f"{mountpoint}/cgroup.controllers") as f:
            available = set(f.read().split())
    except FileNotFoundError:
        return "v1"
    # Only on a host that has cgroup2 at mountpoint: v1 hosts never load v2's module.
    from runtime.cgroups.v2 import CONTROLLERS

    return "v2" if available.issuperset(CONTROLLERS) else "v1"


def driver(parent: str | None = None, mountpoint: str = "/sys/fs/cgroup"):
    """A V2Driver or a V1Driver, whichever fits the host."""
    return _driver_class(detect(mountpoint))(parent, mountpoint)
