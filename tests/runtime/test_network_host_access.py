"""The host's side of a network (what the dashboard's app proxy uses): the
host's own processes open connections to a container's address and port
on any network, whatever its egress or --no-icc, and get the replies;
the containers still open none to the host's services, DNS aside."""

import socket
import urllib.request

from container_testing import sh
from network_testing import Banner, address, bounded, server, wait_listening
from runtime.network import networks


def test_the_host_reaches_a_containers_port_on_any_network(rt, net_root):
    for name, options in (("lab", {}), ("exam", {"egress": "none", "icc": False}), ("open", {"egress": "open"})):
        networks.create(net_root, name, **options)
        web = server(rt, name, f"web-{name}")
        wait_listening(web.pid, 80)
        with urllib.request.urlopen(f"http://{address(rt, web.id)}/hostname", timeout=10) as reply:
            assert reply.read() == f"web-{name}\n".encode(), name


def test_a_container_the_host_talks_to_still_cannot_reach_the_hosts_services(rt, net_root):
    network = networks.create(net_root, "lab", egress="none")
    web = server(rt, "lab", "web")
    wait_listening(web.pid, 80)
    service = Banner()
    try:
        with socket.create_connection((address(rt, web.id), 80), timeout=10) as held:
            held.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
            assert held.recv(4096).startswith(b"HTTP/1.")
            code, out = sh(rt, bounded(f"nc {network.gateway} {service.port}"), network="lab")
            assert "hello" not in out
            code, out = sh(rt, bounded("nslookup web"), network="lab")
            assert address(rt, web.id) in out, out
    finally:
        service.close()
