"""Published ports: `-p [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]`.

The launcher binds each host address and port itself before the container
starts (a port taken is a Conflict and nothing runs), then hands the
sockets to the node's network service (runtime.network.proxy), which
forwards them to the container's address until its pid 1 exits. A proxy
in user space, as docker-proxy: the host's own connections to 127.0.0.1
then reach the container with no `route_localnet` and no NAT of loopback
traffic.
"""

import socket

from runtime.errors import Conflict, InvalidArgument


def parse(text: str) -> dict:
    spec, _, proto = text.partition("/")
    proto = proto or "tcp"
    parts = spec.rsplit(":", 2)
    host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
    try:
        host_port, container_port = (int(p) for p in parts[-2:])
        socket.inet_pton(socket.AF_INET, host_ip)
    except (ValueError, OSError):
        raise InvalidArgument(f"invalid port {text!r}: use [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]") from None
    if len(parts) < 2 or proto not in ("tcp", "udp") or not (0 < host_port < 65536 and 0 < container_port < 65536):
        raise InvalidArgument(f"invalid port {text!r}: use [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]")
    return {"host_ip": host_ip, "host_port": host_port, "container_port": container_port, "proto": proto}


def bind(ports: list[dict]) -> list[socket.socket]:
    """The host's side of each published port, bound (and listening, for TCP)."""
    bound = []
    try:
        for port in ports:
            kind = socket.SOCK_STREAM if port["proto"] == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((port["host_ip"], port["host_port"]))
            except OSError as exc:
                raise Conflict(f"cannot publish {port['host_ip']}:{port['host_port']}/{port['proto']}: "
                               f"{exc.strerror}") from None
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return bound
