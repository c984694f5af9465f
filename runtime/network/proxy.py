"""A container's published ports: `python -m runtime.network.proxy PID START IP FD:PORT:PROTO...`.

Started by the launcher once the container runs, with the sockets it bound
(runtime.network.ports) as the descriptors FD; forwards each to PORT of
the container's address IP, and exits when the process PID (started at
START, so a reused pid is not mistaken for it), the container's pid 1,
has. TCP: a thread pair per connection; UDP: one socket to the container
per client, replies sent back from the published socket.
"""

import os
import select
import socket
import sys
import threading

from runtime.linux import procinfo

UDP_IDLE_S = 60


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
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _udp(published: socket.socket, target: tuple[str, int]) -> None:
    peers = {}  # client address -> socket connected to the container
    while True:
        ready, _, _ = select.select([published, *peers.values()], [], [], UDP_IDLE_S)
        if not ready:
            for sock in peers.values():
                sock.close()
            peers.clear()
        for sock in ready:
            if sock is published:
                data, client = published.recvfrom(65536)
                if client not in peers:
                    peers[client] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    peers[client].connect(target)
                peers[client].send(data)
            else:
                client = next(c for c, s in peers.items() if s is sock)
                try:
                    published.sendto(sock.recv(65536), client)
                except OSError:
                    pass


def main(argv: list[str]) -> None:
    pid, started, address = int(argv[0]), int(argv[1]), argv[2]
    pidfd = os.pidfd_open(pid)
    if not procinfo.is_same(pid, started):
        return
    for spec in argv[3:]:
        fd, port, proto = spec.split(":")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind, fileno=int(fd))
        serve = _tcp if proto == "tcp" else _udp
        threading.Thread(target=serve, args=(sock, (address, int(port))), daemon=True).start()
    select.select([pidfd], [], [])


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)
