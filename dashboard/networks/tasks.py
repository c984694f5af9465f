"""Network tasks, run by the runtime worker of a node: they take a network's
id and make this node's runtime match its row (dashboard.networks.node)."""

from celery import shared_task
from django.db import OperationalError

from dashboard.networks import node

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def network_apply(network_id: int) -> None:
    node.network_apply_on_node(network_id=network_id)
