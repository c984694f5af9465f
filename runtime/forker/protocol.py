"""What a forker and its callers say to each other, and how a forker is started.

Both kinds of forker (a caller's own, over a socket pair, and a node's
shared one, on an abstract socket; see runtime.forker.server) speak it.
"""

import errno
import json
import os
import socket
import sys
import zlib

from runtime.errors import TerrariumError
from runtime.shim.client import WarmShim

# The checkout the runtime package lies in: runtime/forker/protocol.py is three levels down.
_SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def command(*args: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of `python -m runtime.forker ARGS`, from any caller:
    the caller's sys.path may not be the child's (a script that inserted the checkout)."""
    path = os.pathsep.join(p for p in (_SOURCE_DIR, os.environ.get("PYTHONPATH")) if p)
    return [sys.executable, "-P", "-m", "runtime.forker", *args], {**os.environ, "PYTHONPATH": path}
