"""The node's DNS service over TCP (RFC 7766), on port 53 of each gateway
as over UDP: what a resolver asks again when a UDP answer came truncated
(TC), or asks first. Each message is prefixed with its length; a
connection may carry several, answered in turn. Names of the gateway's
network are answered from its leases; any other query is forwarded over
TCP to the first upstream that takes the connection, its answer relayed
whole. A thread per connection, MAX_CONNECTIONS at most and
MAX_PER_CLIENT from one address (one more is closed at once), so one
container cannot take them all; each closed after IDLE_S without a query.
"""

import socket
import struct
import threading

from runtime.network import dns_wire

MAX_CONNECTIONS = 64
MAX_PER_CLIENT = 8
IDLE_S = 10
FORWARD_TIMEOUT_S = 5
IP_FREEBIND = 15
_LENGTH = struct.Struct("!H")


def listen(gateway: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    # Bound before the bridge has its address, as the UDP socket.
    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((gateway, port))
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    return sock


def _exactly(conn: socket.socket, size: int) -> bytes | None:
    # Not MSG_WAITALL: a socket with a timeout is non-blocking underneath, and returns what came so far.
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read(conn: socket.socket) -> bytes | None:
    """One length-prefixed message, or None at the end of the stream."""
    size = _exactly(conn, _LENGTH.size)
    return None if size is None else _exactly(conn, _LENGTH.unpack(size)[0])


def _write(conn: socket.socket, message: bytes) -> None:
    conn.sendall(_LENGTH.pack(len(message)) + message)


def forward(packet: bytes, end: int, servers: list[str], port: int) -> bytes:
    for server in servers:
        try:
            with socket.create_connection((server, port), timeout=FORWARD_TIMEOUT_S) as upstream:
                _write(upstream, packet)
                reply = _read(upstream)
        except OSError:
            continue
        if reply is not None:
            return reply
    return dns_wire.answer(packet, end, None, rcode=dns_wire.SERVFAIL)


class Service:
    """The TCP connections of one DNS service, served by threads of its own."""

    def __init__(self, port: int):
        self.port = port
        self.lock = threading.Lock()
        self.open = {}  # client address -> its open connections

    def accept(self, listener: socket.socket, names, servers: list[str]) -> None:
        try:
            conn, (client, _) = listener.accept()
        except OSError:
            return
        with self.lock:
            if sum(self.open.values()) >= MAX_CONNECTIONS or self.open.get(client, 0) >= MAX_PER_CLIENT:
                # A container opening connections without end gets them closed, not the service's threads.
                conn.close()
                return
            self.open[client] = self.open.get(client, 0) + 1
        threading.Thread(target=self._serve, args=(conn, client, names, servers), daemon=True).start()

    def _serve(self, conn: socket.socket, client: str, names, servers: list[str]) -> None:
        try:
            with conn:
                conn.settimeout(IDLE_S)
                while (packet := _read(conn)) is not None:
                    asked = dns_wire.local(packet, names)
                    if asked is None:
                        return
                    reply, end = asked
                    _write(conn, reply if reply is not None else forward(packet, end, servers, self.port))
        except OSError:
            pass
        finally:
            with self.lock:
                self.open[client] -= 1
                if not self.open[client]:
                    del self.open[client]
