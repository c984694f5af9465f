"""Image tasks, run by the runtime worker of the image's node."""

from celery import shared_task
from django.db import OperationalError

from dashboard.images import services

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def image_import(image_id: int) -> None:
    services.image_import_on_node(image_id=image_id)


@shared_task(**RETRY)
def image_remove(store_name: str, upload_path: str) -> None:
    services.image_remove_on_node(store_name=store_name, upload_path=upload_path)

