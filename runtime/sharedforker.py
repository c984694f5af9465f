"""The caller's side of a node's shared forker (runtime.forker.listen).

For short-lived callers, the CLI above all: the shims of containers started
from separate `run` processes then share the forker's pages instead of
each holding a private copy of its CLI's heap. The first caller that finds
no forker starts one, and waits until it listens.
"""

import json
import os
import select
import socket
import struct
import sys
import zlib

from runtime.errors import TerrariumError

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A request or a reply, on any forker's socket; both forkers speak the same.
MAX_MESSAGE = 1 << 20


def shared_address(root: str, cgroup_parent: str) -> bytes:
    """The abstract socket of a node's shared forker for this state root and
    cgroup parent: named by the root's device and inode (a path could be too
    long for a socket name), visible only in the host's network namespace."""
    st = os.stat(root)
    return f"\0terrarium-forker-{st.st_dev:x}-{st.st_ino:x}-{zlib.crc32(cgroup_parent.encode()):08x}".encode()


def start_request(plan, state, interactive: bool, root: str, cgroup_parent: str) -> bytes:
    """A start as any forker reads it; the root and parent let it refuse one meant for another."""
    return json.dumps({"plan": plan.to_dict(), "state": state.to_dict(), "interactive": interactive,
                       "root": root, "cgroup_parent": cgroup_parent}).encode()


def start_reply(reply: bytes) -> tuple[str, str]:
    """("ok", pid) or ("error", message) from a forker's reply; nothing means it died."""
    if not reply:
        return "error", "the container's supervisor died"
    kind, detail = json.loads(reply)
    return kind, str(detail)


class SharedForker:
    def __init__(self, root: str, cgroup_parent: str):
        self.root, self.cgroup_parent = root, cgroup_parent

    def spawn(self, plan, state, interactive: bool, attach_sock: socket.socket | None) -> tuple[str, str]:
        """As `shim.WarmShim.start`, with a shim the shared forker forked."""
        request = start_request(plan, state, interactive, self.root, self.cgroup_parent)
        with self._connect() as sock:
            socket.send_fds(sock, [request], [attach_sock.fileno()] if attach_sock is not None else [])
            return start_reply(sock.recv(MAX_MESSAGE))

    def close(self) -> None:
        """Nothing to stop: the shared forker outlives its callers, and leaves when idle."""

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
            sys.executable, [sys.executable, "-m", "runtime.forker", "--listen", str(ready_w), root, cgroup_parent],
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
