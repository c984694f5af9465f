"""A network removed and another made on its subnet at once (a node gives
back a network without containers, then makes one for the next start):
the DNS service, still listening on that gateway, answers the new
network's names, not the removed one's."""

import time

from network_testing import fetch, server
from runtime.network import networks


def test_a_network_made_on_a_removed_ones_subnet_resolves_its_own_names(rt, net_root):
    # Keeps the DNS service running between the two.
    networks.create(net_root, "keep")
    gone = networks.create(net_root, "gone")
    old = server(rt, "gone", "old")
    # The running service takes up a new network's gateway within a second.
    deadline = time.monotonic() + 10
    while fetch(rt, "http://old/hostname", "gone") != (0, "old\n"):
        assert time.monotonic() < deadline, "the new network's names never resolved"
        time.sleep(0.2)
    rt.delete(old.id, force=True)

    networks.remove(net_root, "gone")
    made = networks.create(net_root, "made")
    assert made.subnet == gone.subnet

    server(rt, "made", "web")
    # At once: the service listens on the gateway already.
    assert fetch(rt, "http://web/hostname", "made") == (0, "web\n")
