"""When a node's runtime worker starts, the labs' work it was doing when it
stopped is settled (dashboard.labs.node.labs_reconcile_node), in a thread
of its own, as the containers' reconciliation is (dashboard.nodes.worker)."""

import logging
import threading

from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from dashboard.labs.node import labs_reconcile_node
from dashboard.nodes.queues import node_queue

log = logging.getLogger(__name__)


def _reconcile(node_name: str) -> None:
    close_old_connections()
    try:
        labs_reconcile_node(node_name=node_name)
    except Exception:
        log.exception("labs reconciliation of node %s failed", node_name)
    finally:
        close_old_connections()


def _labs_worker_ready(sender, **_):
    queues = {q.name for q in sender.app.amqp.queues.consume_from.values()}
    if node_queue(settings.NODE_NAME) in queues:
        threading.Thread(target=_reconcile, args=(settings.NODE_NAME,), name="labs-reconcile", daemon=True).start()


def connect() -> None:
    worker_ready.connect(_labs_worker_ready, weak=False, dispatch_uid="labs-reconcile")
