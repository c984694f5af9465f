"""The caller's side of a node's shared forker (runtime.forker.server.listen).

For short-lived callers, the CLI above all: the shims of containers started
from separate `run` processes then share the forker's pages instead of
each holding a private copy of its CLI's heap. The first caller that finds
no forker starts one, and waits until it listens.
"""

import os
import select
import socket
import struct
import sys

from runtime.errors import TerrariumError
from runtime.forker.protocol import SWEEP, command, receive_spare, shared_address, spare_request


class SharedForker:
    # Deletes move containers into the trash, which the shared forker empties
    # (see runtime.forker.server.listen): a command need not wait for the disk.
    collects_trash = True

    def __init__(self, root: str, cgroup_parent: str):
        self.root, self.cgroup_parent = root, cgroup_parent

    def take(self):
        """A shim forked ahead by the shared forker (a runtime.shim.client.WarmShim), for the
        caller to start its container with."""
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
            # Only here, where no forker runs: the records module is not on the CLI's start path.
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
    argv, env = command("--listen", str(ready_w), root, cgroup_parent)
    try:
        # posix_spawn, not subprocess, whose import would cost every CLI start.
        # Its own session and no stdio of ours: `$(python -m runtime run -d ...)`
        # must not wait for the forker to close our stdout.
        pid = os.posix_spawn(
            sys.executable, argv, env, setsid=True,
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
