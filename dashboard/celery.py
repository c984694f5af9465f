"""The Celery app. Each node's runtime worker consumes its own queue,
``node.<name>``; the web process only sends."""

import os

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _root_only_files(**_):
    # The worker runs as root: what it writes (the runtime's state) is root's alone.
    os.umask(0o077)


@worker_ready.connect
def _node_worker_ready(sender, **_):
    # Here, not at the top: the worker module needs Django's apps, loaded after this module.
    from dashboard.nodes import worker

    worker.start(sender)


@worker_shutdown.connect
def _node_worker_shutdown(**_):
    # As above.
    from dashboard.nodes import worker

    worker.stop()
