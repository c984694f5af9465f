"""Published UDP ports (`-p HOSTPORT:CONTAINERPORT/udp`): datagrams reach
the container's port and its replies come back from the address and port
the client sent to, also when the port is published on every address of
the host and the client used one that is not its link's first. The echo
in the container is the host's Python run in the container's network
namespace (busybox's nc has no UDP)."""

import socket
import subprocess
import sys

from network_testing import OUTSIDE, ip
from runtime.config import ContainerConfig
from runtime.network import networks, ports

# A UDP echo on port 7 of the namespace it runs in; prints "ready" once bound.
ECHO = """
import socket
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", 7))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(65536)
    sock.sendto(data.upper(), peer)
"""

# Sends argv[3] to argv[1]:argv[2] from an unconnected socket and prints the reply and where it came from.
ASK = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(5)
sock.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
data, peer = sock.recvfrom(65536)
print(data.decode(), peer[0], peer[1])
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_echo(rt, network: str, spec: str):
    """A container published with spec, the echo listening in its namespace; the echo's process."""
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"], network=network,
                                   ports=[ports.parse(spec)]))
    echo = subprocess.Popen(["nsenter", f"--net=/proc/{state.pid}/ns/net", sys.executable, "-c", ECHO],
                            stdout=subprocess.PIPE, text=True)
    assert echo.stdout.readline() == "ready\n"
    return echo


def test_a_udp_port_published_on_127_0_0_1_echoes_from_that_address(rt, net_root):
    networks.create(net_root, "lab")
    port = free_udp_port()
    echo = udp_echo(rt, "lab", f"127.0.0.1:{port}:7/udp")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            for word in (b"hello", b"again"):
                client.sendto(word, ("127.0.0.1", port))
                assert client.recvfrom(65536) == (word.upper(), ("127.0.0.1", port))
    finally:
        echo.kill()
        echo.wait()


def test_replies_come_from_the_address_asked_when_published_on_every_address(rt, net_root, fake_hosts):
    outside = fake_hosts("udp", *OUTSIDE)
    # The host's second address on the outside's link: replies sent by the
    # route alone would leave from its first, outside.host_ip.
    second = OUTSIDE[0].rsplit(".", 1)[0] + ".2"
    ip("addr", "add", f"{second}/24", "dev", outside.link)
    networks.create(net_root, "lab")
    port = free_udp_port()
    echo = udp_echo(rt, "lab", f"{port}:7/udp")
    try:
        for asked in (outside.host_ip, second):
            done = subprocess.run(["ip", "netns", "exec", outside.name, sys.executable, "-c", ASK, asked, str(port),
                                   "hello"], capture_output=True, text=True, timeout=20)
            assert done.stdout == f"HELLO {asked} {port}\n", done.stderr
    finally:
        echo.kill()
        echo.wait()
