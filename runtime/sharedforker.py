"""The caller's side of a node's shared forker (runtime.forker.listen).

For short-lived callers, the CLI above all: the shims of containers started
from separate `run` processes then share the forker's pages instead of
each holding a private copy of its CLI's heap. The first caller that finds
no forker starts one, and waits until it listens.
"""

import errno
import json
import os
import select
import socket
import struct
import sys
import zlib

from runtime.errors import TerrariumError
from runtime.shimclient import WarmShim

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A request or a reply, on any forker's socket; both forkers speak the same.
MAX_MESSAGE = 1 << 20
# A caller's own forker only: a note, with no reply, that containers were moved into the trash.
SWEEP = b"sweep"


def shared_address(root: str, cgroup_parent: str) -> bytes:
    """The abstract socket of a node's shared forker for this state root and
    cgroup parent: named by the root's device and inode (a path could be too
    long for a socket name), visible only in the host's network namespace."""
    st = os.stat(root)
    return f"\0terrarium-forker-{st.st_dev:x}-{st.st_ino:x}-{zlib.crc32(cgroup_parent.encode()):08x}".encode()


def spare_request(root: str, cgroup_parent: str) -> bytes:
    """Asks any forker for a spare shim; the root and parent let it refuse one meant for another."""
    return json.dumps({"spare": [root, cgroup_parent]}).encode()


def receive_spare(sock: socket.socket) -> WarmShim:
    """The spare a forker handed over on sock: its pid, with the shim's and pid 1's sockets."""
    try:
        message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
    except OSError:
        message, fds = b"", []
    if not message:
        for fd in fds:
            os.close(fd)
        raise ConnectionResetError(errno.ECONNRESET, "the forker died")
    kind, detail, *cgroup = json.loads(message)
    if kind != "ok" or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        raise TerrariumError(str(detail))
    return WarmShim(int(detail), socket.socket(fileno=fds[0]), socket.socket(fileno=fds[1]), *cgroup)


class SharedForker:
    # Deletes move containers into the trash, which the shared forker empties
    # (see runtime.forker.listen): a command need not wait for the disk.
    collects_trash = True

    def __init__(self, root: str, cgroup_parent: str):
        self.root, self.cgroup_parent = root, cgroup_parent

    def take(self) -> WarmShim:
        """A shim forked ahead by the shared forker, for the caller to start its container with."""
        with self._connect() as sock:
            sock.send(spare_request(self.root, self.cgroup_parent))
            return receive_spare(sock)

    def ask_ahead(self) -> None:
        """Nothing: a command makes one start, and the shared forker keeps a spare anyway."""

    def close(self) -> None:
        """Nothing to stop: the shared forker outlives its callers, and leaves when idle."""

    def sweep_later(self) -> None:
        """Tell the shared forker that containers were moved into the trash.
        Without one running, empty it now: nothing may be left otherwise."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(shared_address(self.root, self.cgroup_parent))
            sock.send(SWEEP)
        except OSError:
            from runtime.state import StateStore

            StateStore(self.root).empty_trash()
        finally:
            sock.close()

    def _connect(self) -> socket.socket:
        address = shared_address(self.root, self.cgroup_parent)
        for attempt in range(2):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
            try:
                sock.connect(address)
                return sock
            except ConnectionRefusedError:
                sock.close()
            if attempt == 0:
                _start(self.root, self.cgroup_parent)
        raise TerrariumError("cannot reach the node's forker")


def _start(root: str, cgroup_parent: str) -> None:
    """Start a shared forker and wait until it listens (or found another one listening)."""
    ready_r, ready_w = os.pipe()
    os.set_inheritable(ready_w, True)
    # The caller's sys.path may not be the child's (a script that inserted the checkout).
    path = os.pathsep.join(p for p in (_PACKAGE_DIR, os.environ.get("PYTHONPATH")) if p)
    try:
        # posix_spawn, not subprocess, whose import would cost every CLI start.
        # Its own session and no stdio of ours: `$(python -m runtime run -d ...)`
        # must not wait for the forker to close our stdout.
        pid = os.posix_spawn(
            sys.executable, [sys.executable, "-P", "-m", "runtime.forker", "--listen", str(ready_w), root, cgroup_parent],
            {**os.environ, "PYTHONPATH": path}, setsid=True,
            file_actions=[(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)],
        )
    finally:
        os.close(ready_w)
    try:
        # Its first process leaves at once (the forker itself is its child): reap it.
        os.waitpid(pid, 0)
        os.read(ready_r, 16)
    finally:
        os.close(ready_r)


def stop(root: str, cgroup_parent: str) -> None:
    """Ask the shared forker, if one runs, to leave, and wait until it has."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        sock.connect(shared_address(root, cgroup_parent))
    except ConnectionRefusedError:
        sock.close()
        return
    with sock:
        pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        pidfd = os.pidfd_open(pid)
        sock.send(b"quit")
        sock.recv(16)
    try:
        select.select([pidfd], [], [])
    finally:
        os.close(pidfd)
