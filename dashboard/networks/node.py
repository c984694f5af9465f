"""Networks, the worker's side: runs as root on a node. The row is read again
by its id every time; the runtime's record on this node follows it."""

import threading
from collections import defaultdict

from django.conf import settings

from dashboard.networks.models import Network

_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)


def _name(network_id: int) -> str:
    return f"n{network_id}"


def network_ensure_on_node(*, network_id: int) -> Network:
    """The network, present on this node with its recorded egress (made if missing)."""
    # Here: only the root worker touches the runtime's networks; the web side imports this module too.
    from runtime import Conflict, NotFound, networks

    root = str(settings.TERRARIUM_ROOT)
    with _locks[network_id]:
        network = Network.objects.filter(id=network_id).first()
        if network is None:
            raise NotFound(f"no such network: {_name(network_id)}")
        try:
            record = networks.get(root, network.runtime_name)
        except NotFound:
            try:
                networks.create(root, network.runtime_name, egress=network.egress)
                return network
            except Conflict:
                record = networks.get(root, network.runtime_name)
        if record.egress != network.egress:
            networks.update(root, network.runtime_name, network.egress)
        return network


def network_apply_on_node(*, network_id: int) -> None:
    """This node's record made to match the row: its egress changed, or the
    network removed when the row is gone. A network this node does not
    have is made by the next start on it, with the row's egress."""
    # Here: only the root worker touches the runtime's networks; the web side imports this module too.
    from runtime import Conflict, NotFound, networks

    root = str(settings.TERRARIUM_ROOT)
    with _locks[network_id]:
        network = Network.objects.filter(id=network_id).first()
        try:
            if network is None:
                networks.remove(root, _name(network_id))
                return
            record = networks.get(root, network.runtime_name)
            if record.egress != network.egress:
                networks.update(root, network.runtime_name, network.egress)
        except (NotFound, Conflict):
            pass
