"""The networks' nftables policy: egress, the host's services, --no-icc and
spoofing. The outside and a LAN are namespaces of the fixture (fake_hosts),
reached through the host's routes to them."""

import subprocess
import sys
import time

from container_testing import sh
from network_testing import BUSYBOX, LAN, OUTSIDE, Banner, address, bounded, fetch, ip, serve_http, server
from runtime.config import ContainerConfig
from runtime.network import networks

# Port 9000 of the outside: appends what its first connection sends to the file argv[1].
SINK = """
import socket, sys
server = socket.create_server(("0.0.0.0", 9000))
conn, _ = server.accept()
with open(sys.argv[1], "ab", buffering=0) as out:
    while data := conn.recv(4096):
        out.write(data)
"""


def test_internet_egress_reaches_the_outside_but_not_a_private_lan(rt, net_root, fake_hosts, tmp_path):
    (tmp_path / "index.html").write_text("outside\n")
    outside = fake_hosts("out", *OUTSIDE)
    lan = fake_hosts("lan", *LAN)
    serve_http(outside, tmp_path)
    serve_http(lan, tmp_path)
    networks.create(net_root, "lab", egress="internet")
    assert fetch(rt, f"http://{outside.ip}/", "lab") == (0, "outside\n")
    code, out = fetch(rt, f"http://{lan.ip}/", "lab")
    assert code != 0 and "outside" not in out


def test_open_egress_reaches_a_private_lan_and_none_reaches_nothing(rt, net_root, fake_hosts, tmp_path):
    (tmp_path / "index.html").write_text("lan\n")
    lan = fake_hosts("lan", *LAN)
    serve_http(lan, tmp_path)
    networks.create(net_root, "open", egress="open")
    networks.create(net_root, "exam", egress="none")
    assert fetch(rt, f"http://{lan.ip}/", "open") == (0, "lan\n")
    code, out = fetch(rt, f"http://{lan.ip}/", "exam")
    assert code != 0 and "lan" not in out


def test_switching_egress_to_none_cuts_an_open_connection(rt, net_root, fake_hosts, tmp_path):
    outside = fake_hosts("out", *OUTSIDE)
    received = tmp_path / "received"
    received.touch()
    outside.spawn(sys.executable, "-c", SINK, str(received))
    networks.create(net_root, "lab", egress="internet")
    rt.run(ContainerConfig(image="busybox", network="lab", command=[
        "sh", "-c", f"while true; do echo tick; sleep 0.1; done | nc {outside.ip} 9000; sleep 60"]))
    deadline = time.monotonic() + 10
    while received.stat().st_size < 20:
        assert time.monotonic() < deadline, "the connection never carried anything"
        time.sleep(0.05)
    networks.update(net_root, "lab", egress="none")
    time.sleep(1)
    cut_at = received.stat().st_size
    time.sleep(1)
    assert received.stat().st_size == cut_at


def test_no_icc_isolates_the_containers_of_one_network(rt, net_root):
    networks.create(net_root, "exam", icc=False)
    web = server(rt, "exam", "web")
    code, out = fetch(rt, f"http://{address(rt, web.id)}/hostname", "exam")
    assert code != 0 and "web" not in out


def test_the_hosts_services_are_unreachable_from_a_container(rt, net_root, fake_hosts):
    outside = fake_hosts("out", *OUTSIDE)
    network = networks.create(net_root, "lab", egress="open")
    service = Banner()
    try:
        # It does answer on the host's address of the outside's link, from the outside.
        reply = subprocess.run(["ip", "netns", "exec", outside.name, BUSYBOX, "nc", outside.host_ip,
                                str(service.port)], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert reply.stdout == b"hello\n"
        for host_address in (network.gateway, outside.host_ip):
            code, out = sh(rt, bounded(f"nc {host_address} {service.port}"), network="lab")
            assert "hello" not in out, f"{host_address} answered"
    finally:
        service.close()


def test_a_container_cannot_send_with_another_address(rt, net_root):
    network = networks.create(net_root, "lab")
    web = server(rt, "lab", "web")
    spoofer = rt.run(ContainerConfig(image="busybox", network="lab", command=["sleep", "60"]))
    stolen = network.gateway.rsplit(".", 1)[0] + ".99"
    # Container root may send any frame from its eth0 (CAP_NET_RAW); here the
    # host's tools do it in its network namespace: an address of its own choosing.
    enter = ["nsenter", "-t", str(spoofer.pid), "-n"]
    subprocess.run([*enter, "ip", "addr", "add", f"{stolen}/24", "dev", "eth0"], check=True)
    request = b"GET /hostname HTTP/1.0\r\n\r\n"
    honest = subprocess.run([*enter, BUSYBOX, "timeout", "3", BUSYBOX, "nc", address(rt, web.id), "80"],
                            input=request, capture_output=True)
    assert honest.stdout.endswith(b"web\n")
    spoofed = subprocess.run([*enter, BUSYBOX, "timeout", "3", BUSYBOX, "nc", "-s", stolen, address(rt, web.id), "80"],
                             input=request, capture_output=True)
    assert b"web" not in spoofed.stdout
    subprocess.run([*enter, BUSYBOX, "arping", "-c", "2", "-s", stolen, "-I", "eth0", network.gateway],
                   capture_output=True)
    assert f"{stolen} " not in ip("neigh", "show", "dev", network.bridge), "the host believed a spoofed ARP"
