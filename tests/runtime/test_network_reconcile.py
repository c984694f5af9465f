"""After a crash: `network reconcile` puts back what the host lost (bridge,
nftables tables, the DNS service), frees the leases of containers that are
gone and removes their veths; running containers keep their addresses.
`network doctor` names each problem first."""

import os
import signal
import subprocess
import sys

from network_testing import address, fetch, ip, nft_tables, server
from runtime.network import addresses, dns, doctor, networks, policy
from runtime.network.store import NetworkStore


def problems(root):
    return [text for ok, text in doctor.checks(root) if not ok]


def test_reconcile_restores_the_policy_dns_and_bridge_and_frees_stale_leases(rt, net_root):
    network = networks.create(net_root, "lab")
    web = server(rt, "lab", "web")
    kept = address(rt, web.id)
    # A container deleted while the runtime was down: its lease and veth stayed.
    stale = NetworkStore(net_root).lease(network, "0" * 64)
    port = addresses.port_name(stale)
    ip("link", "add", port, "type", "veth", "peer", "name", f"{port}p")
    # What a crash and a flushed ruleset leave: no tables, no DNS service.
    table = policy.table_name(net_root)
    subprocess.run(["nft", "delete", "table", "inet", table], check=True)
    subprocess.run(["nft", "delete", "table", "bridge", table], check=True)
    with open(dns.pidfile(net_root)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGKILL)
    assert problems(net_root)

    done = subprocess.run([sys.executable, "-m", "runtime", "network", "reconcile"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    assert problems(net_root) == []
    assert f"table inet {table}" in nft_tables()
    assert NetworkStore(net_root).leases("lab") == {kept: web.id}
    assert port not in os.listdir("/sys/class/net")
    assert address(rt, web.id) == kept
    assert fetch(rt, "http://web/hostname", "lab") == (0, "web\n")


def test_reconcile_makes_a_missing_bridge_again(rt, net_root):
    network = networks.create(net_root, "lab")
    ip("link", "del", network.bridge)
    assert any(network.bridge in text for text in problems(net_root))
    networks.reconcile(net_root)
    assert problems(net_root) == []
    web = server(rt, "lab", "web")
    assert fetch(rt, f"http://{address(rt, web.id)}/hostname", "lab") == (0, "web\n")


def test_a_start_on_a_network_puts_back_a_flushed_policy(rt, net_root):
    networks.create(net_root, "alice")
    networks.create(net_root, "bob")
    table = policy.table_name(net_root)
    for family in ("inet", "bridge"):
        subprocess.run(["nft", "delete", "table", family, table], check=True)
    web = server(rt, "alice", "web")
    assert f"table inet {table}" in nft_tables() and f"table bridge {table}" in nft_tables()
    code, out = fetch(rt, f"http://{address(rt, web.id)}/hostname", "bob")
    assert code != 0 and "web" not in out
