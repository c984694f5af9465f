"""A node's upkeep of its networks, through the real worker: a dashboard
network leaves the node with its last container there (bridge, veths,
rules, leases and DNS with it) and comes back with the next start; the
heartbeat removes the dashboard's networks left without containers, never
the root's others, and starts a killed DNS service again; a worker started
after a kill -9 reconciles the runtime's networks. Traffic goes only
between these containers and the node's own DNS service."""

import contextlib
import os
import re
import signal
import subprocess

import pytest
from django.conf import settings
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime
from dashboard.networks.models import Network

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("launched")]

SLEEP = "sleep 3600"


def root() -> str:
    return str(settings.TERRARIUM_ROOT)


def delete(client, wait_until, container) -> None:
    response = client.post(reverse("containers:delete", args=[container.id]))
    assert response.status_code == 302
    wait_until(lambda: Container.objects.get(id=container.id).status == "deleted")


def run_in(container, script: str) -> tuple[int | None, str]:
    result = node_runtime().check(container.runtime_name, script.encode(), timeout=10)
    return result.exit_code, result.output.decode(errors="replace")


def network_names() -> list[str]:
    from runtime.network.store import NetworkStore

    return NetworkStore(root()).names()


def served(gateway: str) -> bool:
    """This root's DNS service has a socket on gateway:53 (UDP or TCP): /proc/net, little-endian hex,
    and the sockets' inodes among its descriptors' (another state root's service may bind the same address)."""
    from runtime.network import dns

    with open(dns.pidfile(root())) as f:
        pid = f.read().split()[0]
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    wanted = "%s:0035" % "".join(f"{int(b):02X}" for b in reversed(gateway.split(".")))
    for table in ("/proc/net/udp", "/proc/net/tcp"):
        with open(table) as f:
            if any(line.split()[1] == wanted and line.split()[9] in inodes for line in list(f)[1:]):
                return True
    return False


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def named_in_rules(network: dict) -> bool:
    """The network's bridge or an address of its subnet in the root's nftables policy (both tables)."""
    from runtime.network import addresses, policy

    rules = "".join(subprocess.run(["nft", "list", "table", family, policy.table_name(root())], check=True,
                                   capture_output=True, text=True).stdout for family in ("inet", "bridge"))
    prefix = network["gateway"].rsplit(".", 1)[0]
    return network["bridge"] in rules or bool(re.search(rf"\b{re.escape(prefix)}\.[0-9]+\b", rules)) \
        or any(addresses.port_name(a) in rules for a in addresses.hosts(network["subnet"]))


def test_a_network_leaves_the_node_with_its_last_container_there_and_comes_back_with_the_next_start(
        launch_running, client_of, owner, other_student, busybox_image, wait_until):
    from runtime import networks
    from runtime.network import addresses

    client = client_of(owner)
    web = launch_running(client, busybox_image, "web")
    db = launch_running(client, busybox_image, "db")
    # Another student's network keeps the DNS service running: it must stop serving only the one removed.
    prying = launch_running(client_of(other_student), busybox_image, "prying")
    personal = Network.objects.get(owner=owner)
    before = networks.inspect(root(), personal.runtime_name)
    assert before["bridge"] in links() and served(before["gateway"])
    assert named_in_rules(before)

    delete(client, wait_until, web)
    assert personal.runtime_name in network_names(), "removed while db is still on it"
    delete(client, wait_until, db)

    wait_until(lambda: personal.runtime_name not in network_names(), timeout=10)
    veths = {addresses.port_name(a) for a in addresses.hosts(before["subnet"])}
    wait_until(lambda: not (links() & (veths | {before["bridge"]})), timeout=10)
    assert not named_in_rules(before)
    wait_until(lambda: not served(before["gateway"]), timeout=10)
    # The other network's names are still served, by the same service.
    assert served(networks.inspect(root(), prying.network.runtime_name)["gateway"])
    assert Network.objects.filter(pk=personal.pk).exists()

    again = launch_running(client, busybox_image, "web")
    assert again.network == personal
    assert networks.inspect(root(), personal.runtime_name)["containers"] == {
        node_runtime().get(again.runtime_name).id: again.ip_address}


def test_the_heartbeat_removes_the_dashboards_networks_without_containers_and_no_other(owner, worker, wait_until):
    from runtime import networks

    # A node's copy left without containers, as the nodes kept them before they gave them back.
    left = Network.objects.create(owner=owner, name="owner")
    networks.create(root(), left.runtime_name)
    networks.create(root(), "labnet")
    networks.create(root(), "n12b")
    try:
        wait_until(lambda: left.runtime_name not in network_names(), timeout=15)
        # The beat that removed it looked at them too.
        assert {"labnet", "n12b"} <= set(network_names())
    finally:
        for name in ("labnet", "n12b"):
            networks.remove(root(), name)
    assert Network.objects.filter(pk=left.pk).exists()


def test_names_resolve_again_between_a_students_containers_after_the_dns_service_is_killed(
        launch_running, client_of, owner, busybox_image, worker, wait_until):
    from runtime.linux import procinfo
    from runtime.network import dns

    client = client_of(owner)
    web = launch_running(client, busybox_image, "web")
    db = launch_running(client, busybox_image, "db")
    with open(dns.pidfile(root())) as f:
        pid, started = (int(v) for v in f.read().split())
    assert procinfo.is_same(pid, started)
    os.kill(pid, signal.SIGKILL)

    def served_again():
        code, out = run_in(db, "nslookup web")
        return code == 0 and web.ip_address in out

    wait_until(served_again, timeout=30, interval=0.5)
    with open(dns.pidfile(root())) as f:
        assert int(f.read().split()[0]) != pid
    assert b"DNS service was not running: started again" in worker.log.read_bytes()


def test_a_worker_started_after_a_kill_reconciles_the_runtimes_networks(runtime_env, start_node_worker):
    from runtime import networks
    from runtime.network.store import NetworkStore

    network = networks.create(root(), "upkeep")
    gone = "0" * 64
    stale = None
    try:
        crashed = start_node_worker("node-b")
        os.killpg(crashed.pid, signal.SIGKILL)
        crashed.wait()
        # While it was down: a delete killed between removing its container's
        # record and giving back the lease, and a reboot that took the bridge.
        stale = NetworkStore(root()).lease(network, gone)
        networks.delete_bridge(network)

        start_node_worker("node-b")

        assert stale not in NetworkStore(root()).leases("upkeep")
        assert networks.inspect(root(), "upkeep")["bridge_up"]
    finally:
        if stale is not None:
            NetworkStore(root()).release("upkeep", stale, gone)
        networks.remove(root(), "upkeep")
