"""The attach protocol between a shim and its clients (`run` in the
foreground, `run -it`, a later attach).

Both directions carry frames: one kind byte, a 4-byte big-endian length,
the payload. Shim to client: OUT/ERR output, EXIT with the exit code as
text. Client to shim: INPUT, CLOSE (end of stdin), RESIZE "rows cols".
A listening shim uses an abstract unix socket, which has no file mode, so
it accepts only peers whose uid is 0.
"""

import socket
import struct

OUT, ERR, EXIT = b"o", b"e", b"x"
INPUT, CLOSE, RESIZE = b"i", b"c", b"r"
_HEADER = struct.Struct(">cI")


def address(cid: str) -> str:
    return f"\0terrarium-attach-{cid}"


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """(kind, payload), or None at end of stream."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    kind, length = _HEADER.unpack(header)
    payload = _recv_exact(sock, length) if length else b""
    return None if payload is None else (kind, payload)


class Attachment:
    """A client's end: the container's output as frames, and its input."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> tuple[bytes, bytes] | None:
        return read_frame(self.sock)

    def send_input(self, data: bytes) -> None:
        self.sock.sendall(frame(INPUT, data))

    def close_input(self) -> None:
        self.sock.sendall(frame(CLOSE))

    def resize(self, rows: int, cols: int) -> None:
        self.sock.sendall(frame(RESIZE, f"{rows} {cols}".encode()))

    def close(self) -> None:
        self.sock.close()


def connect(cid: str) -> Attachment:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.connect(address(cid))
    return Attachment(sock)


def peer_is_root(sock: socket.socket) -> bool:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == 0
