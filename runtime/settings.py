"""Where the runtime keeps its state, that it belongs to root alone, and
which cgroup parent the runtime owns.

Paths here and in the stores are strings, not pathlib: its import (re,
fnmatch, urllib.parse, ipaddress) costs every CLI start ~2.5 ms.
"""

import os
import stat

DEFAULT_ROOT = "/var/lib/terrarium"
DEFAULT_CGROUP_PARENT = "terrarium"
ROOT_ONLY = 0o700
TOP = ("containers", "images", "cache")


def state_root(root: str | os.PathLike | None = None) -> str:
    return os.fspath(root or os.environ.get("TERRARIUM_ROOT") or DEFAULT_ROOT)


def cgroup_parent(parent: str | None = None) -> str:
    return (parent or os.environ.get("TERRARIUM_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT).strip("/")


# A container's writable layer lies under `<root>/containers/<id>/upper`, and
# whatever container root leaves there (a setuid copy of a shell) keeps its
# mode on the host: only directories that no other account can enter stand
# between it and every local user, as /var/lib/docker is 0710. Files and
# directories below are made 0600 and 0700 as well (root processes run with
# umask 077), but these outer directories are what stop a host account.
def secure(root: str) -> None:
    """Make the state root if missing; an existing one that others may enter
    (an older installation, an admin's mkdir) is repaired. One stat when right."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        os.makedirs(root, mode=ROOT_ONLY, exist_ok=True)
        for name in TOP:
            os.makedirs(f"{root}/{name}", mode=ROOT_ONLY, exist_ok=True)
        return
    if stat.S_IMODE(st.st_mode) & 0o077 or st.st_uid != 0:
        os.chown(root, 0, 0)
        os.chmod(root, ROOT_ONLY)
        for name in TOP:
            try:
                os.chmod(f"{root}/{name}", ROOT_ONLY)
            except FileNotFoundError:
                pass
