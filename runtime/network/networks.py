"""Networks made, changed and removed: records, bridges and policy together.

A network is its record (runtime.network.store), a bridge on the host
named after its id with the gateway's address, and its part of the policy
(runtime.network.policy). The bridge is made when the network is, and
again by the first start that finds it missing (after a reboot); every
change reloads the whole policy of the state root in one transaction.
"""

import errno
import os
import socket

from runtime.errors import Conflict, NotFound
from runtime.network import addresses, dns, netlink, policy
from runtime.network.store import DEFAULT_NETWORK, Network, NetworkStore, check_egress


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except FileNotFoundError:
        pass


def bridge_index(network: Network) -> int | None:
    try:
        return socket.if_nametoindex(network.bridge)
    except OSError:
        return None


def link_exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def make_bridge(network: Network) -> int:
    rtnl = netlink.Socket()
    try:
        try:
            rtnl.add_bridge(network.bridge, network.mtu)
        except FileExistsError:
            pass
        index = socket.if_nametoindex(network.bridge)
        # IPv4 only: no link-local IPv6 address on the host's side either.
        _write(f"/proc/sys/net/ipv6/conf/{network.bridge}/disable_ipv6", "1")
        try:
            rtnl.add_address(index, network.gateway, network.prefix)
        except FileExistsError:
            pass
    finally:
        rtnl.close()
    return index


def delete_link(name: str) -> None:
    """Gone, also if it was not there."""
    rtnl = netlink.Socket()
    try:
        rtnl.delete_link(name)
    except OSError as exc:
        if exc.errno != errno.ENODEV:
            raise
    finally:
        rtnl.close()


def delete_bridge(network: Network) -> None:
    delete_link(network.bridge)


def apply_policy(root: str, networks: list[Network]) -> None:
    if any(n.egress != "none" for n in networks):
        # Routing out of the bridges; the policy decides what may leave.
        _write("/proc/sys/net/ipv4/ip_forward", "1")
    policy.apply(root, networks)


def create(root: str, name: str, subnet: str | None = None, egress: str = "internet", icc: bool = True) -> Network:
    store = NetworkStore(root)
    with store.locked():
        network = store.create(name, subnet, egress, icc)
        try:
            make_bridge(network)
            apply_policy(root, store.list())
        except BaseException:
            store.remove(name)
            delete_bridge(network)
            raise
    dns.ensure(root)
    dns.refresh(root)
    return network


def default(root: str) -> Network:
    """The `bridge` network, made on its first use."""
    store = NetworkStore(root)
    try:
        return store.get(DEFAULT_NETWORK)
    except NotFound:
        pass
    try:
        return create(root, DEFAULT_NETWORK)
    except Conflict:
        return store.get(DEFAULT_NETWORK)


def get(root: str, name: str) -> Network:
    return default(root) if name == DEFAULT_NETWORK else NetworkStore(root).get(name)


def update(root: str, name: str, egress: str) -> Network:
    check_egress(egress)
    store = NetworkStore(root)
    with store.locked():
        network = store.get(name)
        before, network.egress = network.egress, egress
        # The policy first, the record after: a reader (inspect, ls, the
        # dashboard's node half) never sees an egress that is not in force.
        apply_policy(root, [network if n.name == name else n for n in store.list()])
        store.write(network)
    if egress != before:
        policy.cut_connections(network.subnet)
    return network


def remove(root: str, name: str) -> Network:
    store = NetworkStore(root)
    with store.locked():
        network = store.get(name)
        store.remove(name)
        delete_bridge(network)
        apply_policy(root, store.list())
    dns.refresh(root)
    return network


def prune(root: str) -> list[str]:
    """Networks without containers removed (the default one too)."""
    store = NetworkStore(root)
    removed = []
    with store.locked():
        for network in store.list():
            if not store.leases(network.name):
                store.remove(network.name)
                delete_bridge(network)
                removed.append(network.name)
        if removed:
            apply_policy(root, store.list())
    if removed:
        dns.refresh(root)
    return removed


def ensure(root: str, network: Network) -> int:
    """The network's bridge index, the bridge and policy made again if the
    bridge is missing (a reboot) or the policy's tables are (a host's
    `nft flush ruleset`): a container never starts on a network without
    its policy. An ioctl and two nfnetlink requests when all is there."""
    index = bridge_index(network)
    table = policy.table_name(root)
    if index is not None and all(netlink.nft_table_exists(f, table)
                                 for f in (netlink.NFPROTO_INET, netlink.NFPROTO_BRIDGE)):
        return index
    store = NetworkStore(root)
    with store.locked():
        index = make_bridge(network)
        apply_policy(root, store.list())
    return index


def names(root: str) -> list[str]:
    return NetworkStore(root).names()


def unused(root: str) -> list[str]:
    """Names of the networks no container holds an address on (running or not)."""
    store = NetworkStore(root)
    return [name for name in store.names() if not store.leases(name)]


def serve(root: str) -> bool:
    """The DNS service, and with it the published ports it holds, started
    again if it died while the root has networks: one read of its pid file
    when it runs. True when it had to be started."""
    if dns.running(root) or not NetworkStore(root).names():
        return False
    dns.ensure(root)
    return True


def inspect(root: str, name: str) -> dict:
    store = NetworkStore(root)
    network = store.get(name)
    data = network.to_dict()
    data["containers"] = {cid: ip for ip, cid in sorted(store.leases(name).items())}
    data["table"] = policy.table_name(root)
    data["bridge_up"] = bridge_index(network) is not None
    return data


def reconcile(root: str) -> dict:
    """After a crash or a reboot: every network's bridge and the policy made
    again, the DNS service started, leases of containers that no longer
    exist freed and the veths of free addresses removed. Leases of existing
    containers stay, so running containers keep their addresses."""
    store = NetworkStore(root)
    freed, removed = [], []
    with store.locked():
        for network in store.list():
            if bridge_index(network) is None:
                make_bridge(network)
            leases = store.leases(network.name)
            for address, cid in leases.items():
                if not os.path.exists(f"{root}/containers/{cid}/state.json"):
                    store.release(network.name, address, cid)
                    freed.append(address)
            held = set(store.leases(network.name))
            for address in addresses.hosts(network.subnet):
                port = addresses.port_name(address)
                if address not in held and link_exists(port):
                    delete_link(port)
                    removed.append(port)
        apply_policy(root, store.list())
    if store.names():
        dns.ensure(root)
    return {"leases_freed": freed, "links_removed": removed}
