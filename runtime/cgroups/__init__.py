"""Cgroup drivers: v1 (including hybrid hosts) and unified v2, behind one interface.

`driver()` looks at the host once and returns the driver that fits; both
offer create/attach/procs/update/stats/freeze/thaw/frozen/oom_kills/
kill_all/destroy/paths for cgroups named under one parent.
"""

from runtime.cgroups.limits import Limits
from runtime.cgroups.mounts import is_cgroup2
from runtime.cgroups.v1 import V1Driver
from runtime.cgroups.v2 import CONTROLLERS as V2_CONTROLLERS
from runtime.cgroups.v2 import V2Driver

__all__ = ["Limits", "V1Driver", "V2Driver", "detect", "driver"]


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
    return "v2" if available.issuperset(V2_CONTROLLERS) else "v1"


def driver(parent: str | None = None, mountpoint: str = "/sys/fs/cgroup") -> V1Driver | V2Driver:
    if detect(mountpoint) == "v2":
        return V2Driver(parent, mountpoint)
    return V1Driver(parent, mountpoint)
