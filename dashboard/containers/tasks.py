"""Lifecycle tasks, run by the runtime worker of the container's node. They take
ids, claim their work with a conditional update (so a duplicate is a no-op) and
retry only when the database was briefly busy."""

from celery import shared_task
from django.db import OperationalError

from dashboard.containers import node

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def container_launch(container_id: int, restart: bool = False) -> None:
    node.container_launch_on_node(container_id=container_id, restart=restart)


@shared_task(**RETRY)
def container_stop(container_id: int) -> None:
    node.container_stop_on_node(container_id=container_id)


@shared_task(**RETRY)
def container_delete(container_id: int) -> None:
    node.container_delete_on_node(container_id=container_id)
