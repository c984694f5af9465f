"""Containers on bridge networks: an eth0 with a leased address, reaching
each other on one network and nothing on another."""

import pytest

from container_testing import sh
from network_testing import address, bounded, fetch, server
from runtime.errors import Conflict
from runtime.network import addresses, networks
from runtime.network.store import NetworkStore


def test_two_containers_on_one_network_reach_each_other_by_address(rt, net_root):
    networks.create(net_root, "lab")
    web = server(rt, "lab", "web")
    code, out = fetch(rt, f"http://{address(rt, web.id)}/hostname", "lab")
    assert (code, out) == (0, "web\n")
    code, out = sh(rt, bounded(f"ping -c 1 {address(rt, web.id)}"), network="lab")
    assert code == 0, out


def test_a_container_of_another_network_gets_nothing(rt, net_root):
    networks.create(net_root, "alice")
    networks.create(net_root, "bob")
    web = server(rt, "alice", "web")
    code, out = fetch(rt, f"http://{address(rt, web.id)}/hostname", "bob")
    assert code != 0 and "web" not in out
    code, _ = sh(rt, bounded(f"ping -c 1 {address(rt, web.id)}"), network="bob")
    assert code != 0


def test_eth0_has_its_lease_the_uplinks_mtu_and_no_ipv6(rt, net_root):
    network = networks.create(net_root, "lab")
    code, out = sh(rt, "ip -o addr show; cat /sys/class/net/eth0/mtu; ip route", network="lab", name="probe")
    assert code == 0, out
    leased = next(iter(addresses.hosts(network.subnet)))
    assert f"inet {leased}/24 " in out
    assert "inet6" not in out
    assert f"\n{addresses.uplink_mtu()}\n" in out
    assert f"default via {network.gateway} dev eth0" in out


def test_the_default_network_bridge_is_made_on_first_use(rt, net_root):
    code, out = sh(rt, "ip -o -4 addr show eth0", network="bridge")
    assert code == 0 and "inet 10." in out, out
    assert NetworkStore(net_root).get("bridge").egress == "internet"


def test_a_container_keeps_its_address_across_restarts_and_frees_it_on_delete(rt, net_root):
    networks.create(net_root, "lab")
    web = server(rt, "lab", "web")
    first = address(rt, web.id)
    rt.restart(web.id, timeout=1)
    assert address(rt, web.id) == first
    code, out = fetch(rt, f"http://{first}/hostname", "lab")
    assert (code, out) == (0, "web\n")
    assert NetworkStore(net_root).leases("lab") == {first: web.id}
    rt.delete(web.id, force=True)
    assert NetworkStore(net_root).leases("lab") == {}


def test_inspect_shows_the_network_its_address_and_aliases(rt, net_root):
    networks.create(net_root, "lab")
    web = server(rt, "lab", "web", network_aliases=["www"])
    shown = rt.inspect(web.id)["network"]
    assert shown == {"name": "lab", "ip": address(rt, web.id), "aliases": ["www"], "ports": [], "dns": []}
    assert shown["ip"] in NetworkStore(net_root).leases("lab")


def test_a_network_with_containers_cannot_be_removed(rt, net_root):
    networks.create(net_root, "lab")
    server(rt, "lab", "web")
    with pytest.raises(Conflict):
        networks.remove(net_root, "lab")
    assert NetworkStore(net_root).get("lab")
