"""Reading and writing cgroupfs files, and removing cgroup directories.

Plain os.open/os.read: the sampler reads a handful of these files per
container every second, and the buffered-file machinery costs more than
the read itself.
"""

import errno
import os
import time

from runtime.errors import Conflict, InvalidArgument, NotFound

_CHUNK = 65536
RMDIR_TIMEOUT_S = 5.0


def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _CHUNK)
        # seq_file hands over everything it has when the buffer is big
        # enough; loop only for the rare file longer than one chunk.
        if len(data) == _CHUNK:
            parts = [data]
            while chunk := os.read(fd, _CHUNK):
                parts.append(chunk)
            data = b"".join(parts)
    finally:
        os.close(fd)
    return data.decode()


def write(path: str, value) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name:
        raise InvalidArgument(f"invalid cgroup name {name!r}")
    return name


def make_dir(path: str) -> None:
    """mkdir, where one already there will do."""
    try:
        os.mkdir(path)
    except FileExistsError:
        pass


def require_dir(path: str, name: str) -> None:
    if not os.path.isdir(path):
        raise NotFound(f"cgroup '{name}' does not exist")


def remove_tree(path: str) -> None:
    """rmdir a cgroup and any cgroups below it, deepest first.

    rmdir answers EBUSY for a moment after the last task exits (it is still
    being torn down), so each directory is retried for a few seconds.
    """
    # Containers make no child cgroups as a rule: one rmdir, no walk.
    if _rmdir(path) is None:
        return
    for current, _dirs, _files in os.walk(path, topdown=False):
        _rmdir_retrying(current)


def _rmdir(path: str) -> OSError | None:
    """None once path is gone (or was never there), else rmdir's error."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc
    return None


def _rmdir_retrying(path: str) -> None:
    deadline = time.monotonic() + RMDIR_TIMEOUT_S
    delay = 0.001
    while (error := _rmdir(path)) is not None:
        if error.errno != errno.EBUSY:
            raise error
        if time.monotonic() > deadline:
            raise Conflict(f"cgroup {path} still has processes") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
