"""The node's DNS service, already running for other networks, listens on
a network's gateway as soon as the network is made, and lets go of it as
soon as it is removed: a container started at once looks names up at once
(its first apt-get or pip), not after the service's next look a second later."""

import errno
import socket

import pytest

from runtime.network import dns, networks


def gateway_served(gateway: str) -> bool:
    """Whether something listens on the gateway's DNS port: a probe bound
    there (free-bind, as the service binds, so a removed bridge's address
    will do) finds it taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.IPPROTO_IP, dns.IP_FREEBIND, 1)
        try:
            probe.bind((gateway, dns.PORT))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


# Rounds: without the service being told, each would pass only when its
# once-a-second look happened to fall between create and the check.
@pytest.mark.parametrize("round", range(3))
def test_a_new_networks_gateway_is_served_when_create_returns_and_freed_when_remove_does(net_root, round):
    networks.create(net_root, "keep")
    fresh = networks.create(net_root, "fresh")
    assert dns.running(net_root)
    assert gateway_served(fresh.gateway)
    networks.remove(net_root, "fresh")
    assert not gateway_served(fresh.gateway)
