"""The node's DNS service for containers: `python -m runtime.network.dns ROOT`.

One process per state root listens on port 53 of each network's gateway
address only, over UDP and TCP (runtime.network.dns_tcp); the policy lets
a container reach nothing else of the host. A query that comes in on a network's gateway is answered from
that network's leases: the names and aliases of its containers, and of no
other network's. Any other name is forwarded to the host's resolvers, a
loopback one (systemd-resolved's 127.0.0.53) included, since this process
runs in the host's namespace; TERRARIUM_DNS_UPSTREAM (addresses, comma
separated) replaces them. It also holds every container's published ports
(runtime.network.proxy), and binds them again when it starts after a
crash (proxy.restore). The networks are looked at again every second;
the process leaves once none is left. `ensure` starts it when it is not
running (its pid and start time in <root>/networks/.dns.pid).
"""

import fcntl
import json
import os
import select
import socket
import subprocess
import sys
import time

from runtime.linux import procinfo
from runtime.network import dns_tcp, dns_wire, policy, proxy
from runtime.network.store import NetworkStore

PORT = 53
FORWARD_TIMEOUT_S = 5
START_TIMEOUT_S = 5
MAX_PENDING = 256
IP_FREEBIND = 15


def pidfile(root: str) -> str:
    return f"{root}/networks/.dns.pid"


def running(root: str) -> bool:
    try:
        with open(pidfile(root)) as f:
            pid, started = (int(v) for v in f.read().split())
    except (OSError, ValueError):
        return False
    return procinfo.is_same(pid, started)


def ensure(root: str) -> None:
    """Start the service for root unless it runs (one read when it does);
    returns once it runs, so a container's first lookup finds it."""
    if running(root):
        return
    child = subprocess.Popen([sys.executable, "-m", "runtime.network.dns", root], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                     cwd="/", env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__))))})
    deadline = time.monotonic() + START_TIMEOUT_S
    while not running(root) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def refresh(root: str) -> None:
    """Have the running service listen on the networks made or removed since
    its last look (it looks once a second) before this returns: a container
    started on a new network looks up names at once, its first apt-get or
    pip included. Nothing when no service runs (its start looks anyway)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as conn:
            conn.settimeout(START_TIMEOUT_S)
            conn.connect(proxy.address(policy.table_name(root)))
            conn.send(json.dumps({"refresh": True}).encode())
            conn.recv(1)
    except OSError:
        pass


def upstreams() -> list[str]:
    configured = os.environ.get("TERRARIUM_DNS_UPSTREAM")
    if configured is not None:
        return [a.strip() for a in configured.split(",") if a.strip()]
    servers = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1]:
                    servers.append(parts[1])
    except OSError:
        pass
    return servers


class Names:
    """name -> address of the containers of the network on one gateway, read
    again when its leases change."""

    def __init__(self, root: str, network: str, gateway: str):
        self.root, self.gateway = root, gateway
        self.follow(network)

    def follow(self, network: str) -> None:
        self.network = network
        self.leases_dir = f"{self.root}/networks/{network}/leases"
        self.seen = None
        self.table = {}

    def _moved(self) -> bool:
        """Its network removed and another made on the same subnet since the
        last refresh (a node gives back a network without containers, then
        makes one): that one's names, at once."""
        for network in NetworkStore(self.root).list():
            if network.gateway == self.gateway and network.name != self.network:
                self.follow(network.name)
                return True
        return False

    def lookup(self, name: str) -> str | None:
        try:
            stamp = os.stat(self.leases_dir).st_mtime_ns
        except FileNotFoundError:
            if not self._moved():
                return None
            return self.lookup(name)
        if stamp != self.seen:
            self.table = self._read()
            self.seen = stamp
        return self.table.get(name)

    def _read(self) -> dict[str, str]:
        table = {}
        for address, cid in NetworkStore(self.root).leases(self.network).items():
            try:
                with open(f"{self.root}/containers/{cid}/state.json") as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            for name in [state.get("name"), *state.get("config", {}).get("network_aliases", [])]:
                if name:
                    table.setdefault(name.lower(), address)
        return table


class Server:
    def __init__(self, root: str):
        self.root = root
        # Published ports' hand-overs (runtime.network.proxy).
        self.control = proxy.listen(policy.table_name(root))
        # A service started again after a crash: the published ports it held, back.
        store = NetworkStore(root)
        for name in store.names():
            proxy.restore(root, store.leases(name))
        self.sockets = {}  # gateway -> (UDP socket, TCP listener, Names)
        self.tcp = dns_tcp.Service(PORT)
        self.pending = {}  # upstream socket -> (client socket, client address, deadline)

    def refresh(self) -> bool:
        """Listen on every network's gateway, and only those; False when there is no network."""
        wanted = {n.gateway: n.name for n in NetworkStore(self.root).list()}
        for gateway in list(self.sockets):
            if gateway not in wanted:
                udp, tcp, _ = self.sockets.pop(gateway)
                udp.close()
                tcp.close()
        for gateway, name in wanted.items():
            if gateway in self.sockets and self.sockets[gateway][2].network != name:
                self.sockets[gateway][2].follow(name)
            if gateway not in self.sockets:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                # Bound before the bridge has its address (it is made again after a reboot).
                sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
                try:
                    sock.bind((gateway, PORT))
                    listener = dns_tcp.listen(gateway, PORT)
                except OSError:
                    sock.close()
                    continue
                self.sockets[gateway] = (sock, listener, Names(self.root, name, gateway))
        return bool(wanted)

    def serve_one(self, sock: socket.socket, names: Names) -> None:
        try:
            packet, client = sock.recvfrom(4096)
        except OSError:
            return
        asked = dns_wire.local(packet, names)
        if asked is None:
            return
        reply, end = asked
        if reply is not None:
            sock.sendto(reply, client)
            return
        # A reply too long for UDP comes back truncated (TC): the client asks again over TCP (dns_tcp).
        self.forward(packet, end, sock, client)

    def forward(self, packet: bytes, end: int, sock: socket.socket, client) -> None:
        if len(self.pending) >= MAX_PENDING:
            # A container flooding lookups gets failures, not the service's descriptors.
            sock.sendto(dns_wire.answer(packet, end, None, rcode=dns_wire.SERVFAIL), client)
            return
        for server in upstreams():
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                upstream.connect((server, PORT))
                upstream.send(packet)
            except OSError:
                upstream.close()
                continue
            self.pending[upstream] = (sock, client, time.monotonic() + FORWARD_TIMEOUT_S, packet, end)
            return
        sock.sendto(dns_wire.answer(packet, end, None, rcode=dns_wire.SERVFAIL), client)

    def relay(self, upstream: socket.socket) -> None:
        sock, client, _, packet, end = self.pending.pop(upstream)
        try:
            reply = upstream.recv(65535)
        except OSError:
            reply = dns_wire.answer(packet, end, None, rcode=dns_wire.SERVFAIL)
        upstream.close()
        sock.sendto(reply, client)

    def expire(self) -> None:
        now = time.monotonic()
        for upstream, (sock, client, deadline, packet, end) in list(self.pending.items()):
            if deadline < now:
                self.pending.pop(upstream)
                upstream.close()
                sock.sendto(dns_wire.answer(packet, end, None, rcode=dns_wire.SERVFAIL), client)

    def run(self) -> None:
        next_refresh = 0.0
        while True:
            if time.monotonic() >= next_refresh:
                if not self.refresh():
                    return
                next_refresh = time.monotonic() + 1
            by_fd = {s.fileno(): (s, names) for s, _, names in self.sockets.values()}
            listeners = {t.fileno(): (t, names) for _, t, names in self.sockets.values()}
            ready, _, _ = select.select([*by_fd, *listeners, *self.pending, self.control], [], [], 0.5)
            for item in ready:
                if item is self.control:
                    try:
                        proxy.accept(self.control, self.refresh)
                    except (OSError, ValueError, KeyError, TypeError):
                        # One malformed hand-over must not take the node's DNS down with it.
                        pass
                elif item in self.pending:
                    self.relay(item)
                elif item in listeners:
                    self.tcp.accept(*listeners[item], upstreams())
                else:
                    self.serve_one(*by_fd[item])
            self.expire()


def main(root: str) -> None:
    os.umask(0o077)
    # One per root: whoever holds the lock serves, for as long as it lives.
    lock = os.open(f"{root}/networks/.dns.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            # Held by a service that runs, or by a killed one whose threads
            # are still leaving: the lock goes with its last descriptor, its
            # published ports' sockets with it, so they can be bound again.
            if running(root) or time.monotonic() > deadline:
                return
            time.sleep(0.01)
    # Running (see ensure) once the published ports are back: a reconcile returns with them.
    server = Server(root)
    tmp = f"{pidfile(root)}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()} {procinfo.start_time(os.getpid())}\n")
    os.rename(tmp, pidfile(root))
    server.run()


if __name__ == "__main__":
    main(sys.argv[1])
