"""What a node's runtime worker does besides tasks: on start, reconcile what
was in flight when it stopped; then, every few seconds, say it is alive and
reconcile again, so the UI shows the runtime's truth, remove what lab
checks whose caller died left behind and networks no container of the node
uses, and start the networks' DNS service again if it died."""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from dashboard.classes.node import classes_limits_enforce_on_node
from dashboard.containers.node import containers_reconcile_node
from dashboard.labs.scripts import sweep_abandoned_checks
from dashboard.networks.node import networks_reconcile_on_node, networks_upkeep_on_node
from dashboard.nodes.queues import node_queue
from dashboard.nodes.services import node_worker_seen

log = logging.getLogger(__name__)
_stop = threading.Event()


def _beat(node_name: str, *, worker_restarted: bool) -> None:
    close_old_connections()
    try:
        node_worker_seen(name=node_name)
        if worker_restarted:
            # First the runtime's networks (a crash or a reboot left bridges, rules or leases behind),
            # then the rows, which read the runtime.
            _networks_reconcile(node_name)
        containers_reconcile_node(node_name=node_name, worker_restarted=worker_restarted)
        if worker_restarted:
            log.info("node %s: work in flight at the last stop reconciled", node_name)
        classes_limits_enforce_on_node(node_name=node_name)
        sweep_abandoned_checks()
        networks_upkeep_on_node()
    except Exception:
        # A busy database or a runtime hiccup must not end the heartbeat for good.
        log.exception("worker heartbeat of node %s failed", node_name)
    finally:
        close_old_connections()


def _networks_reconcile(node_name: str) -> None:
    try:
        done = networks_reconcile_on_node()
    except Exception:
        # The containers' work in flight is queued again all the same; the next start on a network makes its bridge.
        log.exception("networks of node %s not reconciled", node_name)
        return
    if done.get("leases_freed") or done.get("links_removed"):
        log.info("node %s: networks reconciled: %s", node_name, done)


def _loop(node_name: str) -> None:
    _beat(node_name, worker_restarted=True)
    while not _stop.wait(settings.NODE_HEARTBEAT_SECONDS):
        _beat(node_name, worker_restarted=False)


def start(consumer) -> None:
    """Called when a worker is ready; only a node's runtime worker has a heartbeat."""
    queues = {q.name for q in consumer.app.amqp.queues.consume_from.values()}
    if node_queue(settings.NODE_NAME) in queues:
        threading.Thread(target=_loop, args=(settings.NODE_NAME,), name="node-heartbeat", daemon=True).start()


def stop() -> None:
    _stop.set()
