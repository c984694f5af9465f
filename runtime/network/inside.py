"""A container's eth0, made by its pid 1 (runtime.isolation.container_init).

pid 1 opens a netlink socket in the host's network namespace before it
joins the container's (see userns.Ahead), and keeps it until its plan
comes: with it, it makes the veth pair, the host end on the network's
bridge, the other end straight into its own namespace as `eth0`; no
process has to find the container's namespace from outside, and a spare
made ahead needs nothing of its network. Then, inside, the address and the
default route; IPv6 is turned off first, so eth0 never has any.
"""

import os
import socket

from runtime.network import netlink

NAME = "eth0"


def _ipv6_off() -> None:
    # /proc/sys/net shows the namespace of the process that opens it: this one's.
    for conf in ("all", "default"):
        try:
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as f:
                f.write("1")
        except FileNotFoundError:
            return


def attach(net: dict, host: netlink.Socket) -> None:
    _ipv6_off()
    netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        args = (net["port"], net["bridge"], net["mtu"], NAME, net["mac"], netns)
        try:
            host.add_veth(*args)
        except FileExistsError:
            # The last run's pair, whose namespace the kernel has not finished tearing down.
            host.delete_link(net["port"])
            host.add_veth(*args)
    finally:
        os.close(netns)
    inside = netlink.Socket()
    try:
        index = socket.if_nametoindex(NAME)
        inside.set_up(index)
        inside.add_address(index, net["ip"], net["prefix"])
        inside.add_default_route(index, net["gateway"])
    finally:
        inside.close()
