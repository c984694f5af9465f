"""The Celery app. Each node's runtime worker consumes its own queue,
``node.<name>``; the web process only sends."""

import os

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def node_queue(node_name: str) -> str:
    return f"node.{node_name}"


@worker_init.connect
def _root_only_files(**_):
    # The worker runs as root: what it writes (the runtime's state) is root's alone.
    os.umask(0o077)


@worker_ready.connect
def _node_worker_ready(sender, **_):
    from dashboard.nodes import worker

    worker.start(sender)


@worker_shutdown.connect
def _node_worker_shutdown(**_):
    from dashboard.nodes import worker

    worker.stop()
