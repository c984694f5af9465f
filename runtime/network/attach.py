"""A container on a network, from the launcher's side: its lease at
create, what its pid 1 is told at start, its record in `inspect`, and the
lease given back at delete. pid 1 does the rest (runtime.network.inside)."""

from runtime.network import addresses, dns, networks, policy, ports, proxy
from runtime.network.store import NetworkStore


def lease(root: str, cfg, cid: str) -> None:
    """cfg.ip from a lease of cfg.network (the default network made on first use)."""
    network = networks.get(root, cfg.network)
    cfg.ip = NetworkStore(root).lease(network, cid)


def release(root: str, cfg, cid: str) -> None:
    """The lease given back, and the veth gone with it: a container's
    namespace, and with it its veth, outlives it while a socket of it
    lingers (a connection whose FIN is never answered, egress cut)."""
    if cfg.ip is None:
        return
    port = addresses.port_name(cfg.ip)
    if networks.link_exists(port):
        networks.delete_link(port)
    NetworkStore(root).release(cfg.network, cfg.ip, cid)


def plan(root: str, cfg) -> dict:
    """pid 1's part: the veth to make, on the network's bridge (made again
    if missing), and the network's DNS service, started if it is not running."""
    network = NetworkStore(root).get(cfg.network)
    dns.ensure(root)
    return {
        "bridge": networks.ensure(root, network), "port": addresses.port_name(cfg.ip), "mtu": network.mtu,
        "ip": cfg.ip, "prefix": network.prefix, "gateway": network.gateway, "mac": addresses.mac_for(cfg.ip),
    }


def describe(cfg) -> dict:
    if cfg.network == "none":
        return {"name": "none", "ip": None, "aliases": [], "ports": [], "dns": list(cfg.dns)}
    return {"name": cfg.network, "ip": cfg.ip, "aliases": list(cfg.network_aliases),
            "ports": [dict(p) for p in cfg.ports], "dns": list(cfg.dns)}


def bind_ports(cfg) -> list:
    """The published ports' host sockets, bound before the start (Conflict if one is taken)."""
    return ports.bind(cfg.ports)


def start_proxy(root: str, cfg, state, sockets: list) -> None:
    """The bound sockets handed to the node's network service, which
    forwards them to the container until its pid 1 exits
    (runtime.network.proxy). The caller closes its own."""
    proxy.hand_over(policy.table_name(root), state.pid, state.pid_start_time, cfg.ip, cfg.ports, sockets)
