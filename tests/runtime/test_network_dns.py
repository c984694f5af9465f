"""Names on a network: its containers and their aliases resolve through the
node's DNS service on the gateway; other networks' do not; other names are
forwarded upstream (a fake resolver in a namespace of the fixture)."""

import sys

from container_testing import sh
from network_testing import OUTSIDE, address, bounded, fetch, server
from runtime.network import networks

# A resolver on port 53 of its namespace: every A question gets 203.0.113.10.
UPSTREAM = """
import socket, struct
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", 53))
while True:
    q, peer = sock.recvfrom(512)
    end = q.index(b"\\0", 12) + 5
    sock.sendto(q[:2] + b"\\x81\\x80\\0\\1\\0\\1\\0\\0\\0\\0" + q[12:end]
                + struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton("203.0.113.10"), peer)
"""


def test_containers_on_one_network_reach_each_other_by_name_and_alias(rt, net_root):
    networks.create(net_root, "lab")
    server(rt, "lab", "web", network_aliases=["www"])
    assert fetch(rt, "http://web/hostname", "lab") == (0, "web\n")
    assert fetch(rt, "http://www/hostname", "lab") == (0, "web\n")
    code, out = sh(rt, bounded("ping -c 1 web"), network="lab")
    assert code == 0, out


def test_a_name_of_another_network_does_not_resolve(rt, net_root):
    networks.create(net_root, "alice")
    networks.create(net_root, "bob")
    web = server(rt, "alice", "web")
    code, out = sh(rt, bounded("nslookup web"), network="bob")
    assert address(rt, web.id) not in out
    # Nor through alice's service: bob's containers cannot reach it.
    alice_dns = networks.inspect(net_root, "alice")["gateway"]
    code, out = sh(rt, bounded(f"nslookup web {alice_dns}"), network="bob")
    assert address(rt, web.id) not in out


def test_resolv_conf_names_the_networks_gateway(rt, net_root):
    network = networks.create(net_root, "lab")
    code, out = sh(rt, "cat /etc/resolv.conf", network="lab")
    assert out == f"nameserver {network.gateway}\n"


def test_other_names_are_forwarded_to_the_hosts_resolvers(rt, net_root, fake_hosts, monkeypatch):
    outside = fake_hosts("dns", *OUTSIDE)
    outside.spawn(sys.executable, "-c", UPSTREAM)
    monkeypatch.setenv("TERRARIUM_DNS_UPSTREAM", outside.ip)
    networks.create(net_root, "lab", egress="none")
    code, out = sh(rt, bounded("nslookup example.test"), network="lab")
    assert "203.0.113.10" in out, out
