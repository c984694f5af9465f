"""Networks, the worker's side: runs as root on a node. The row is read again
by its id every time; the runtime's record on this node follows it.

A node has a network while containers of it are there: a start makes it
(`network_held_on_node`), the delete of its last container there and the
heartbeat's sweep remove it (`network_release_on_node`), so the node's
address pool (256 networks by default) is not used up by networks of past
labs. The Network row stays; the next start makes the network again, maybe
with another subnet. Every start, delete and sweep of a node runs in its
one worker process, so a lock per network in this process keeps a removal
from coming between a start's make and its container's lease."""

import contextlib
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterator

from django.conf import settings

from dashboard.containers.models import Container
from dashboard.networks.models import Network

log = logging.getLogger(__name__)
_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
# The runtime names of the dashboard's networks (Network.runtime_name_of); the root's others (the CLI's
# `bridge`, an admin's) are never removed here.
_DASHBOARDS = re.compile(r"^n([0-9]+)$")


def _root() -> str:
    return str(settings.TERRARIUM_ROOT)


def _ensure(network_id: int) -> Network:
    # Here: only the root worker touches the runtime's networks; the web side imports this module too.
    from runtime import Conflict, NotFound, networks

    network = Network.objects.filter(id=network_id).first()
    if network is None:
        raise NotFound(f"no such network: {Network.runtime_name_of(network_id)}")
    try:
        record = networks.get(_root(), network.runtime_name)
    except NotFound:
        try:
            networks.create(_root(), network.runtime_name, egress=network.egress)
            return network
        except Conflict:
            record = networks.get(_root(), network.runtime_name)
    if record.egress != network.egress:
        networks.update(_root(), network.runtime_name, network.egress)
    return network


@contextlib.contextmanager
def network_held_on_node(*, network_id: int) -> Iterator[Network]:
    """The network, present on this node with its recorded egress (made if
    missing), and kept there until the block is over: start the container
    inside it, its lease then keeps the network."""
    with _locks[network_id]:
        yield _ensure(network_id)


def network_release_on_node(*, network_id: int) -> bool:
    """This node's copy of the network removed (bridge, policy, DNS with it)
    if no container of the node holds an address on it and no start of one
    is queued or under way (it would make it again at once). True if removed."""
    from runtime import Conflict, NotFound, networks

    with _locks[network_id]:
        if Container.objects.filter(network_id=network_id, status__in=[Container.Status.QUEUED,
                                                                       Container.Status.STARTING]).exists():
            return False
        try:
            # Refused while a container, running or not, holds a lease on it.
            networks.remove(_root(), Network.runtime_name_of(network_id))
        except (NotFound, Conflict):
            return False
        return True


def networks_upkeep_on_node() -> None:
    """The heartbeat's part: the dashboard's networks without containers on
    this node removed, and the DNS service started again if it died (its
    containers' names and published ports come back with it)."""
    from runtime import networks

    for name in networks.unused(_root()):
        found = _DASHBOARDS.match(name)
        if found and network_release_on_node(network_id=int(found.group(1))):
            log.info("network %s removed from this node: no container of it uses it", name)
    if networks.serve(_root()):
        log.warning("the networks' DNS service was not running: started again")


def networks_reconcile_on_node() -> dict:
    """At the worker's start, after a crash or a reboot: bridges, policy and
    DNS made again, leases of containers gone freed (runtime.network.networks.reconcile).
    Tasks may already run: the dashboard's networks are held meanwhile, since
    a start's lease, taken before its container's record is written, would look stale."""
    from runtime import networks

    names = networks.names(_root())
    if not names:
        # A node that never had a network needs nothing of nftables.
        return {}
    with contextlib.ExitStack() as held:
        for name in sorted(names):
            found = _DASHBOARDS.match(name)
            if found:
                held.enter_context(_locks[int(found.group(1))])
        return networks.reconcile(_root())


def network_apply_on_node(*, network_id: int) -> None:
    """This node's record made to match the row: its egress changed, or the
    network removed when the row is gone. A network this node does not
    have is made by the next start on it, with the row's egress."""
    # Here: only the root worker touches the runtime's networks; the web side imports this module too.
    from runtime import Conflict, NotFound, networks

    with _locks[network_id]:
        network = Network.objects.filter(id=network_id).first()
        try:
            if network is None:
                networks.remove(_root(), Network.runtime_name_of(network_id))
                return
            record = networks.get(_root(), network.runtime_name)
            if record.egress != network.egress:
                networks.update(_root(), network.runtime_name, network.egress)
        except (NotFound, Conflict):
            pass
