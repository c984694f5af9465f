"""Class tasks, run by the runtime worker of the instance's node."""

from celery import shared_task
from django.db import OperationalError

from dashboard.classes import node

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def class_instance_resume(instance_id: int) -> None:
    node.class_instance_resume_on_node(instance_id=instance_id)
