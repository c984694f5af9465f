"""`run --dns IP`: the container's resolv.conf names the servers given
instead of its network's DNS service, as Docker does. Such a server is an
address like any other: the network's egress decides whether it is
reached (with egress none it is not). The outside's resolver is a
namespace of the fixture."""

import json
import subprocess
import sys

from container_testing import sh
from network_testing import OUTSIDE, bounded, serve_dns
from runtime.network import networks


def cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=60)


def test_dns_servers_replace_the_networks_dns_in_resolv_conf(rt, net_root):
    networks.create(net_root, "lab")
    code, out = sh(rt, "cat /etc/resolv.conf", network="lab", dns=["192.0.2.53", "192.0.2.54"])
    assert (code, out) == (0, "nameserver 192.0.2.53\nnameserver 192.0.2.54\n")


def test_a_dns_server_answers_as_far_as_the_networks_egress_reaches(rt, net_root, fake_hosts):
    outside = fake_hosts("dns", *OUTSIDE)
    serve_dns(outside)
    networks.create(net_root, "lab", egress="internet")
    networks.create(net_root, "exam", egress="none")
    code, out = sh(rt, bounded("nslookup example.test"), network="lab", dns=[outside.ip])
    assert code == 0 and "203.0.113.10" in out, out
    code, out = sh(rt, bounded("nslookup example.test"), network="exam", dns=[outside.ip])
    assert "203.0.113.10" not in out, out


def test_run_with_dns_shows_the_servers_in_inspect(rt, net_root):
    assert cli("network", "create", "lab").returncode == 0
    started = cli("run", "-d", "--name", "web", "--network", "lab", "--dns", "192.0.2.53", "--dns", "192.0.2.54",
                  "busybox", "sleep", "60")
    assert started.returncode == 0, started.stderr
    shown = json.loads(cli("inspect", "web").stdout)["network"]
    assert shown["dns"] == ["192.0.2.53", "192.0.2.54"]


def test_bad_dns_servers_get_one_error_line_and_create_nothing(rt, net_root):
    assert cli("network", "create", "lab").returncode == 0
    for servers, message in (
        (["banana"], "error: invalid DNS server 'banana': use an IPv4 address such as 192.0.2.53\n"),
        (["2001:db8::53"], "error: invalid DNS server '2001:db8::53': use an IPv4 address such as 192.0.2.53\n"),
        (["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"],
         "error: too many DNS servers: 3 at most (resolv.conf reads no more)\n"),
    ):
        done = cli("run", "--network", "lab", *(f"--dns={s}" for s in servers), "busybox", "true")
        assert (done.returncode, done.stderr) == (1, message), servers
    assert rt.list(all=True) == []
