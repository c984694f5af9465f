"""Where the runtime keeps its state and which cgroup parent it owns.

Paths here and in the stores are strings, not pathlib: its import (re,
fnmatch, urllib.parse, ipaddress) costs every CLI start ~2.5 ms.
"""

import os

DEFAULT_ROOT = "/var/lib/terrarium"
DEFAULT_CGROUP_PARENT = "terrarium"


def state_root(root: str | os.PathLike | None = None) -> str:
    return os.fspath(root or os.environ.get("TERRARIUM_ROOT") or DEFAULT_ROOT)


def cgroup_parent(parent: str | None = None) -> str:
    return (parent or os.environ.get("TERRARIUM_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT).strip("/")
