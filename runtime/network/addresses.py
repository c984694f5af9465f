"""Subnets, addresses and the names derived from them.

A network's subnet comes from the pool (TERRARIUM_NETWORK_POOL, default
10.88.0.0/16, split into /24s), skipping any that overlaps a route of the
host or another network's subnet. A container's MAC and its host-side veth
name are made from its address, as Docker makes MACs: an address belongs to
one container at a time (its lease), so both are unique, and the policy can
list every (port, MAC, address) a network may ever have when the network is
made instead of at each start (see runtime.network.policy).
"""

import os
import socket
import struct

DEFAULT_POOL = "10.88.0.0/16"
POOL_PREFIX = 24
DEFAULT_MTU = 1500


def pool():
    # ipaddress only here and below: its import costs a start ~1 ms, and a start needs none of it.
    import ipaddress

    return ipaddress.IPv4Network(os.environ.get("TERRARIUM_NETWORK_POOL") or DEFAULT_POOL)


def host_routes() -> list:
    """The host's IPv4 routes of the main table, without the default route."""
    import ipaddress

    routes = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                dest, mask = (socket.inet_ntoa(struct.pack("<I", int(v, 16))) for v in (fields[1], fields[7]))
                if mask != "0.0.0.0":
                    routes.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    except (OSError, StopIteration):
        pass
    return routes


def free_subnet(taken: list):
    busy = [*taken, *host_routes()]
    for subnet in pool().subnets(new_prefix=POOL_PREFIX):
        if not any(subnet.overlaps(other) for other in busy):
            return subnet
    return None


def uplink_mtu() -> int:
    """The MTU of the device of the host's default route, so a container's
    packets need no fragmenting on the way out."""
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == "00000000" and fields[7] == "00000000":
                    with open(f"/sys/class/net/{fields[0]}/mtu") as m:
                        return int(m.read())
    except (OSError, ValueError, StopIteration):
        pass
    return DEFAULT_MTU


def mac_for(address: str) -> str:
    """02:42 (locally administered) then the address's four bytes, as Docker."""
    return "02:42:" + ":".join(f"{b:02x}" for b in socket.inet_aton(address))


def port_name(address: str) -> str:
    """The host end of a container's veth: `tv` and its address in hex."""
    return "tv" + socket.inet_aton(address).hex()


def hosts(subnet: str):
    """Addresses containers may get, in order: all but the network, the
    gateway (the first) and the broadcast address."""
    base, prefix = subnet.split("/")
    first = struct.unpack("!I", socket.inet_aton(base))[0]
    for n in range(first + 2, first + (1 << (32 - int(prefix))) - 1):
        yield socket.inet_ntoa(struct.pack("!I", n))


def netmask(prefix: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
