"""The network's DNS service over TCP (port 53 of the gateway, as UDP):
several length-prefixed queries on one connection; a name too long for
UDP comes back truncated there, and whole over TCP, fetched upstream over
TCP (the upstream is a namespace of the fixture). The client is the
host's Python run in a container's network namespace."""

import subprocess
import sys

from network_testing import OUTSIDE, address, serve_dns, server
from runtime.config import ContainerConfig
from runtime.network import networks

# argv: server, udp|tcp, names. One line per name: rcode, TC flag, the A records' addresses.
# Over TCP every query goes on one connection.
ASK = """
import socket, struct, sys
server, proto, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def query(i, name):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + labels + b"\\0" + struct.pack("!HH", 1, 1)
def exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        assert chunk, "closed"
        data += chunk
    return data
def show(r):
    flags, count = struct.unpack_from("!H", r, 2)[0], struct.unpack_from("!H", r, 6)[0]
    o = 12
    while r[o]:
        o += r[o] + 1
    o += 5
    found = []
    for _ in range(count):
        kind, _, _, size = struct.unpack_from("!HHIH", r, o + 2)
        if kind == 1:
            found.append(socket.inet_ntoa(r[o + 12:o + 16]))
        o += 12 + size
    print(flags & 0xF, "tc" if flags & 0x200 else "-", ",".join(found))
if proto == "tcp":
    conn = socket.create_connection((server, 53), timeout=10)
    for i, name in enumerate(names):
        q = query(i, name)
        conn.sendall(struct.pack("!H", len(q)) + q)
        show(exactly(conn, struct.unpack("!H", exactly(conn, 2))[0]))
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(10)
    for i, name in enumerate(names):
        sock.sendto(query(i, name), (server, 53))
        show(sock.recv(65536))
"""


def ask(rt, network: str, proto: str, *names) -> str:
    """ASK's output from a new container on network, asking its gateway."""
    client = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"], network=network))
    gateway = networks.inspect(rt.root, network)["gateway"]
    done = subprocess.run(["nsenter", f"--net=/proc/{client.pid}/ns/net", sys.executable, "-c", ASK, gateway, proto,
                           *names], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_names_of_the_network_resolve_over_tcp_several_on_one_connection(rt, net_root):
    networks.create(net_root, "lab")
    web = server(rt, "lab", "web", network_aliases=["www"])
    db = server(rt, "lab", "db")
    assert ask(rt, "lab", "tcp", "web", "www", "db", "WEB") == (
        f"0 - {address(rt, web.id)}\n0 - {address(rt, web.id)}\n0 - {address(rt, db.id)}\n0 - {address(rt, web.id)}\n")


def test_a_name_too_long_for_udp_comes_whole_over_tcp_from_upstream(rt, net_root, fake_hosts, monkeypatch):
    outside = fake_hosts("dns", *OUTSIDE)
    serve_dns(outside)
    monkeypatch.setenv("TERRARIUM_DNS_UPSTREAM", outside.ip)
    networks.create(net_root, "lab", egress="none")
    assert ask(rt, "lab", "udp", "big.test", "example.test") == "0 tc \n0 - 203.0.113.10\n"
    whole = ",".join(f"203.0.113.{10 + i}" for i in range(40))
    assert ask(rt, "lab", "tcp", "big.test", "example.test") == f"0 - {whole}\n0 - 203.0.113.10\n"


# argv: server. Opens 70 TCP connections to its port 53 (as many as it takes), says "held" and keeps them.
HOLD = """
import socket, sys, time
held = [socket.create_connection((sys.argv[1], 53), timeout=10) for _ in range(70)]
print("held", flush=True)
time.sleep(60)
"""


def test_a_container_holding_connections_does_not_starve_another(rt, net_root):
    networks.create(net_root, "lab")
    web = server(rt, "lab", "web")
    hog = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"], network="lab"))
    gateway = networks.inspect(net_root, "lab")["gateway"]
    holder = subprocess.Popen(["nsenter", f"--net=/proc/{hog.pid}/ns/net", sys.executable, "-c", HOLD, gateway],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert ask(rt, "lab", "tcp", "web") == f"0 - {address(rt, web.id)}\n"
    finally:
        holder.kill()
        holder.wait()
