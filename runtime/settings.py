"""Where the runtime keeps its state and which cgroup parent it owns."""

import os
from pathlib import Path

DEFAULT_ROOT = "/var/lib/terrarium"
DEFAULT_CGROUP_PARENT = "terrarium"


def state_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root or os.environ.get("TERRARIUM_ROOT") or DEFAULT_ROOT)


def cgroup_parent(parent: str | None = None) -> str:
    return (parent or os.environ.get("TERRARIUM_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT).strip("/")
