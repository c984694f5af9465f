"""The Celery app. Each node's runtime worker consumes its own queue,
``node.<name>``; the web process only sends."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def node_queue(node_name: str) -> str:
    return f"node.{node_name}"
