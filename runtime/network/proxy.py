"""Published ports forwarded in user space, by the node's network service
(runtime.network.dns), which holds the proxies of every container of its
state root: a start hands it the sockets it bound (runtime.network.ports)
over a unix socket only root may use, instead of starting a process of its
own (~15 ms here). Each container's proxies stop when its pid 1 exits.
TCP: a thread pair per connection; UDP: one socket to the container per
client, replies sent back from the published socket.
"""

import json
import os
import select
import socket
import struct
import threading

from runtime.errors import TerrariumError
from runtime.linux import procinfo
from runtime.network.ports import bind

UDP_IDLE_S = 60
MAX_MESSAGE = 65536
IP_PKTINFO = 8
# (pid, start time) of the containers whose ports this process serves.
_served = set()
# struct in_pktinfo: interface index, local address (for the reply), the header's destination.
_PKTINFO = struct.Struct("=I4s4s")


def address(table: str) -> bytes:
    """The service's abstract unix socket, named after its root's tables."""
    return f"\0terrarium-net-{table}".encode()


def hand_over(table: str, pid: int, started: int, ip: str, ports: list[dict], sockets: list) -> None:
    """Give the service a started container's bound sockets; returns once it
    holds them, or has closed them because the container has exited already."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as conn:
            conn.connect(address(table))
            message = json.dumps({"pid": pid, "started": started, "ip": ip, "ports": ports}).encode()
            socket.send_fds(conn, [message], [s.fileno() for s in sockets])
            reply = conn.recv(1)
    except OSError as exc:
        reply, why = b"", exc.strerror
    else:
        why = "it did not answer"
    if reply not in (b"k", b"g"):
        raise TerrariumError(f"the container runs, but its ports are not published: the node's network "
                             f"service: {why} (network reconcile starts it)")


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _udp(published: socket.socket, target: tuple[str, int]) -> None:
    # A reply leaves from the address its client sent to (IP_PKTINFO): the
    # route alone would pick the link's first address when the port is
    # published on all of them, and the client would not take it.
    published.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    peers = {}  # client address -> (socket connected to the container, the address the client sent to)
    try:
        while True:
            ready, _, _ = select.select([published, *(s for s, _ in peers.values())], [], [], UDP_IDLE_S)
            if not ready:
                for sock, _ in peers.values():
                    sock.close()
                peers.clear()
            for sock in ready:
                if sock is published:
                    data, ancillary, _, client = published.recvmsg(65536, socket.CMSG_SPACE(_PKTINFO.size))
                    if not data and not client:
                        return
                    if client not in peers:
                        asked = next((_PKTINFO.unpack(d)[2] for level, kind, d in ancillary
                                      if level == socket.IPPROTO_IP and kind == IP_PKTINFO), bytes(4))
                        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        upstream.connect(target)
                        peers[client] = (upstream, asked)
                    peers[client][0].send(data)
                else:
                    client, asked = next((c, a) for c, (s, a) in peers.items() if s is sock)
                    info = _PKTINFO.pack(0, asked, bytes(4))
                    published.sendmsg([sock.recv(65536)], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, client)
    except OSError:
        return
    finally:
        for sock, _ in peers.values():
            sock.close()


def _until_exit(pidfd: int, sockets: list, key: tuple) -> None:
    select.select([pidfd], [], [])
    os.close(pidfd)
    for sock in sockets:
        try:
            # Wakes the thread blocked on it; the close gives the port back.
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    _served.discard(key)


def listen(table: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    server.bind(address(table))
    server.listen(64)
    return server


def serve(pid: int, started: int, ip: str, ports: list[dict], sockets: list) -> bool:
    """Forward sockets to the container until its pid 1 exits; False (the
    sockets closed) if it has exited already. A container served already
    keeps its proxies, and these sockets are closed: a hand-over that comes
    after restore found the container (see restore)."""
    key = (pid, started)
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, TypeError):
        pidfd = None
    if pidfd is None or not procinfo.is_same(pid, started) or key in _served:
        for sock in sockets:
            sock.close()
        if pidfd is not None:
            os.close(pidfd)
        return key in _served
    _served.add(key)
    for sock, port in zip(sockets, ports):
        forward = _tcp if port["proto"] == "tcp" else _udp
        threading.Thread(target=forward, args=(sock, (ip, port["container_port"])), daemon=True).start()
    threading.Thread(target=_until_exit, args=(pidfd, sockets, key), daemon=True).start()
    return True


def accept(server: socket.socket, refresh) -> None:
    """One hand-over: the sockets proxied until the container's pid 1 exits;
    or a request to look at the networks again (`refresh()`, then the reply)."""
    conn, _ = server.accept()
    with conn:
        # Any local account may connect to an abstract socket: only root is heard, and nobody for long.
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != 0:
            return
        conn.settimeout(1)
        try:
            message, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, 64)
        except OSError:
            return
        try:
            request = json.loads(message) if message else {}
        except ValueError:
            request = {}
        if not isinstance(request, dict):
            request = {}
        sockets = []
        for fd, port in zip(fds, request.get("ports", [])):
            kind = socket.SOCK_STREAM if port["proto"] == "tcp" else socket.SOCK_DGRAM
            sockets.append(socket.socket(socket.AF_INET, kind, fileno=fd))
        for fd in fds[len(sockets):]:
            os.close(fd)
        if not request:
            return
        if request.get("refresh") is True:
            refresh()
            conn.send(b"k")
            return
        # Exited already: nothing to forward, and not the launcher's error.
        conn.send(b"k" if serve(request["pid"], request["started"], request["ip"], request["ports"], sockets)
                  else b"g")


def restore(root: str, leases: dict[str, str]) -> None:
    """When the service starts again (after a crash or `kill -9`, the
    published ports gone with it): the ports of every running container of
    leases ({address: container id}) bound again and served. Connections
    the dead service carried are lost with it (their clients see them
    reset or closed); new ones reach the container again. A port another
    process took meanwhile stays unpublished."""
    for ip, cid in leases.items():
        try:
            with open(f"{root}/containers/{cid}/state.json") as f:
                state = json.load(f)
        except (OSError, ValueError):
            continue
        wanted = state.get("config", {}).get("ports") or []
        # Paused too: a frozen container keeps its ports.
        if not wanted or state.get("status") not in ("running", "paused") or not procinfo.is_same(
                state.get("pid"), state.get("pid_start_time")):
            continue
        try:
            sockets = bind(wanted)
        except TerrariumError:
            # Its launcher holds them (a start handing them over now), or another process took one.
            continue
        serve(state["pid"], state["pid_start_time"], ip, wanted, sockets)
