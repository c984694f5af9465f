"""Lab tasks, run by the runtime worker of the instance's node. They take
ids; the node side claims its work with a conditional update and re-checks
every id it is handed."""

from celery import shared_task
from django.db import OperationalError

from dashboard.labs import node, selftest

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 0.2, "max_retries": 5}


@shared_task(**RETRY)
def lab_instance_prepare(instance_id: int) -> None:
    node.lab_instance_prepare_on_node(instance_id=instance_id)


@shared_task(**RETRY)
def lab_check_run(check_run_id: int) -> None:
    node.lab_check_run_on_node(check_run_id=check_run_id)


@shared_task(**RETRY)
def lab_self_test(lab_id: int) -> None:
    selftest.lab_self_test_on_node(lab_id=lab_id)
