"""Cgroup stat files held open between samples and reread with pread.

On a VM every file opened after a second idle costs a path walk and fresh
kernel pages; the sampler rereads the same files of every container each
second, so keeping their fds saves most of a tick. An open fd does not pin
a cgroup: rmdir still succeeds, and a read of the removed cgroup's file
fails with ENODEV, which is when the container's fds are dropped and its
files opened again (a restarted container gets a new cgroup of the same
name).
"""

import _thread
import errno
import os

from runtime.cgroups import files

# The rest of the process (sockets, logs, shims' pipes) needs fds too.
SHARE_OF_LIMIT = 0.7
_GONE = (errno.ENODEV, errno.ENOENT, errno.ESTALE)
_CHUNK = 65536
# setrlimit refuses RLIM_INFINITY for RLIMIT_NOFILE; the kernel's default nr_open.
_NR_OPEN = 1 << 20


class OpenFiles:
    """fds per cgroup name, opened on first read; past the budget, files
    are opened and closed per read as before."""

    def __init__(self):
        self._fds: dict[str, dict[str, int]] = {}
        self._count = 0
        self._budget = None
        self._raised = False
        # stats() and stats_many() of one Runtime may run in two threads: a
        # fd one of them closes could be reused under the other's pread.
        # threading.Lock is this; the threading module would cost every CLI start 0.6 ms.
        self._lock = _thread.allocate_lock()
        self._finalizer = None

    def read(self, name: str, path: str) -> str:
        with self._lock:
            fd = self._fds.get(name, {}).get(path)
            if fd is not None:
                try:
                    return _pread_all(fd)
                except OSError as exc:
                    if exc.errno not in _GONE:
                        raise
                    self._forget(name)
            if not self._room():
                return files.read(path)
            if self._finalizer is None:
                # Imported here: a driver that only starts containers (the CLI) holds no stat file.
                import weakref

                self._finalizer = weakref.finalize(self, _close_all, self._fds)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._fds.setdefault(name, {})[path] = fd
            self._count += 1
            return _pread_all(fd)

    def retain(self, names) -> None:
        """Close the fds of every cgroup not in names."""
        with self._lock:
            for name in [n for n in self._fds if n not in names]:
                self._forget(name)

    def _forget(self, name: str) -> None:
        for fd in self._fds.pop(name, {}).values():
            os.close(fd)
            self._count -= 1

    def _room(self) -> bool:
        # Imported here, as weakref in read(): only stat reads need the fd limit.
        import resource

        if self._budget is None:
            self._budget = int(resource.getrlimit(resource.RLIMIT_NOFILE)[0] * SHARE_OF_LIMIT)
        if self._count < self._budget:
            return True
        if not self._raised:
            self._raised = True
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            target = _NR_OPEN if hard == resource.RLIM_INFINITY else hard
            if target > soft:
                try:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                    self._budget = int(target * SHARE_OF_LIMIT)
                except (ValueError, OSError):
                    pass
        return self._count < self._budget


def _pread_all(fd: int) -> str:
    data = os.pread(fd, _CHUNK, 0)
    # As in files.read: one call returns the whole of any usual stat file.
    if len(data) == _CHUNK:
        parts = [data]
        while chunk := os.pread(fd, _CHUNK, _CHUNK * len(parts)):
            parts.append(chunk)
        data = b"".join(parts)
    return data.decode()


def _close_all(fds: dict[str, dict[str, int]]) -> None:
    for paths in fds.values():
        for fd in paths.values():
            os.close(fd)
