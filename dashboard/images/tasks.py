"""Image tasks, run by the runtime worker of the image's node. They carry ids
only; node.py re-reads and re-checks each row."""

from celery import shared_task
from django.db import OperationalError

from dashboard.images import node

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def image_import(image_id: int) -> None:
    node.image_import_on_node(image_id=image_id)


@shared_task(**RETRY)
def image_remove(image_id: int) -> None:
    node.image_remove_on_node(image_id=image_id)


@shared_task(**RETRY)
def image_commit(image_id: int, container_id: int) -> None:
    node.image_commit_on_node(image_id=image_id, container_id=container_id)


@shared_task
def image_export(image_id: int, key: str) -> None:
    node.image_export_on_node(image_id=image_id, key=key)
