"""Helpers for the network tests: namespaces that play the outside and a
LAN, links and tables of the host, and containers on networks. Traffic in
these tests goes only between containers, these namespaces and the host's
own addresses: never to an address beyond this machine. The fixtures are
in conftest.py."""

import os
import socket
import subprocess
import sys
import threading
import time

from container_testing import sh
from runtime.config import ContainerConfig

BUSYBOX = "/bin/busybox"
# TEST-NET-3 (RFC 5737: documentation, never routed): the fake outside.
OUTSIDE = ("203.0.113.1", "203.0.113.10")
# A private subnet: the fake LAN, which `internet` egress must not reach.
LAN = ("192.168.77.1", "192.168.77.10")


def ip(*args) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], check=True, capture_output=True, text=True).stdout


class FakeHost:
    """A network namespace joined to the host by a veth: the host's end has
    `host_ip`/24, the namespace's `ip`/24 and a default route back."""

    def __init__(self, tag: str, host_ip: str, address: str):
        self.name, self.link, self.host_ip, self.ip = f"tt-{tag}", f"tth-{tag}", host_ip, address
        ip("netns", "add", self.name)
        ip("link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.name)
        ip("addr", "add", f"{host_ip}/24", "dev", self.link)
        ip("link", "set", self.link, "up")
        for args in (("link", "set", "lo", "up"), ("link", "set", "eth0", "up"),
                     ("addr", "add", f"{address}/24", "dev", "eth0"), ("route", "add", "default", "via", host_ip)):
            ip("-n", self.name, *args)
        self.processes = []

    def spawn(self, *argv, **options) -> subprocess.Popen:
        """A process of this namespace, stopped when it is removed."""
        process = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **options)
        self.processes.append(process)
        return process

    def remove(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        ip("link", "del", self.link)
        ip("netns", "del", self.name)


def serve_http(host: FakeHost, directory) -> None:
    """busybox httpd on port 80 of host, serving directory; returns once it listens."""
    host.spawn(BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(directory))
    deadline = time.monotonic() + 10
    while ":0050 " not in subprocess.run(["ip", "netns", "exec", host.name, "cat", "/proc/net/tcp",
                                          "/proc/net/tcp6"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "httpd did not start"
        time.sleep(0.02)


def fetch(rt, url: str, network: str, **options) -> tuple[int, str]:
    """wget from a new container on network: (exit code, output). See bounded."""
    return sh(rt, bounded(f"wget -q -O - {url}"), network=network, **options)


def bounded(command: str, seconds: int = 3) -> str:
    """A shell line that ends command after seconds (this busybox's own
    `wget -T` crashes). Not the last command of the script: sh would exec it
    as pid 1, which ignores timeout's SIGTERM."""
    return f"timeout {seconds} {command}; exit $?"


def server(rt, network: str, name: str, **options):
    """A container on network serving its /etc over HTTP (port 80); its state."""
    state = rt.run(ContainerConfig(image="busybox", name=name, command=["httpd", "-f", "-p", "80", "-h", "/etc"],
                                   network=network, **options))
    return rt.get(state.id)


def address(rt, ref: str) -> str:
    return rt.inspect(ref)["network"]["ip"]


class Banner:
    """A service of the host on every address it has (port chosen by the
    kernel) that greets each connection with `hello` and closes it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello\n")

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join()


# A resolver on port 53 of its namespace, UDP and TCP: every A question gets
# 203.0.113.10, except `big.test`, which gets 40 records (over 512 bytes):
# over UDP, only the header and question with TC set, so the asker retries
# over TCP. Each TCP connection may carry several queries.
RESOLVER = """
import socket, struct, threading
def reply(q, udp):
    end = q.index(b"\\0", 12) + 5
    count = 40 if q[13:17] == b"big\\x04" or b"\\x03big\\x04test" in q[12:end] else 1
    if udp and count > 1:
        return q[:2] + b"\\x83\\x80\\0\\1\\0\\0\\0\\0\\0\\0" + q[12:end]
    records = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + bytes([203, 0, 113, 10 + i]) for i in range(count))
    return q[:2] + b"\\x81\\x80\\0\\1" + struct.pack("!H", count) + b"\\0\\0\\0\\0" + q[12:end] + records
def serve(conn):
    with conn:
        while len(size := conn.recv(2, socket.MSG_WAITALL)) == 2:
            q = conn.recv(struct.unpack("!H", size)[0], socket.MSG_WAITALL)
            answer = reply(q, False)
            conn.sendall(struct.pack("!H", len(answer)) + answer)
def tcp():
    server = socket.create_server(("0.0.0.0", 53))
    while True:
        threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
threading.Thread(target=tcp, daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 53))
while True:
    q, peer = udp.recvfrom(512)
    udp.sendto(reply(q, True), peer)
"""


def serve_dns(host: FakeHost) -> None:
    """RESOLVER on port 53 of host; returns once it listens on UDP and TCP."""
    host.spawn(sys.executable, "-c", RESOLVER)
    deadline = time.monotonic() + 10
    while subprocess.run(["ip", "netns", "exec", host.name, "cat", "/proc/net/tcp", "/proc/net/udp"],
                         capture_output=True, text=True).stdout.count(":0035 ") < 2:
        assert time.monotonic() < deadline, "the resolver did not start"
        time.sleep(0.02)


def wait_listening(pid: int, port: int, proto: str = "tcp") -> None:
    """Returns once a socket of pid's network namespace is bound to port (TCP: listening), IPv4 or IPv6."""
    state = "0A" if proto == "tcp" else "07"

    def bound():
        for table in (proto, f"{proto}6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                if any(fields[1].endswith(f":{port:04X}") and fields[3] == state
                       for fields in (line.split() for line in list(f)[1:])):
                    return True
        return False
    deadline = time.monotonic() + 10
    while not bound():
        assert time.monotonic() < deadline, f"nothing listens on {proto} port {port} of {pid}"
        time.sleep(0.02)
