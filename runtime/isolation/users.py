"""A `USER name[:group]` resolved from the container's own /etc/passwd and /etc/group.

It runs in the process that is about to become the container's, once its
root is the container's (pid 1 after pivot_root, an exec'd process after
setns into the mount namespace): an absolute symlink such as
/etc/passwd -> /etc/shadow then resolves inside the container, never on the
host. The files are the image's to write, so each is opened without blocking
(a FIFO must not hang the start), must be a regular file, and is read up to
MAX_FILE bytes.

As runc's GetExecUser (what Docker uses): a user given by name takes its
primary group from /etc/passwd and, unless a group is given too, its
supplementary groups from the /etc/group entries that list its name.
"""

import os
import stat

from runtime.errors import InvalidArgument

MAX_FILE = 1 << 20


def _entries(path: str) -> list[list[str]]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidArgument(f"the container's {path} is not a regular file")
        data = os.read(fd, MAX_FILE)
    finally:
        os.close(fd)
    return [line.split(":") for line in data.decode(errors="replace").splitlines() if line and line[0] != "#"]


def _number(field: str) -> int | None:
    return int(field) if field.isascii() and field.isdigit() else None


def resolve(user: int | str, group: int | str | None) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary gids) for `config.parse_user`'s pair, read in the current root."""
    name, uid, gid, groups = None, user, group, []
    if isinstance(user, str):
        entry = next((e for e in _entries("/etc/passwd") if len(e) >= 4 and e[0] == user), None)
        if entry is None or _number(entry[2]) is None or _number(entry[3]) is None:
            raise InvalidArgument(f"unable to find user {user}: no matching entries in the container's /etc/passwd")
        name, uid, primary = user, _number(entry[2]), _number(entry[3])
        if group is None:
            gid = primary
    if isinstance(group, str):
        entry = next((e for e in _entries("/etc/group") if len(e) >= 3 and e[0] == group), None)
        if entry is None or _number(entry[2]) is None:
            raise InvalidArgument(f"unable to find group {group}: no matching entries in the container's /etc/group")
        gid = _number(entry[2])
    elif gid is None:
        gid = uid
    if name is not None and group is None:
        for entry in _entries("/etc/group"):
            if len(entry) >= 4 and name in entry[3].split(",") and _number(entry[2]) is not None:
                groups.append(_number(entry[2]))
    return uid, gid, groups
