from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard.nodes.queues import node_queue


def _recent(at) -> bool:
    return at is not None and timezone.now() - at < timedelta(seconds=settings.NODE_DEAD_AFTER_SECONDS)


class Node(models.Model):
    """A machine running a runtime worker and a node agent."""

    name = models.CharField(max_length=100, unique=True)
    cpus = models.PositiveIntegerField(default=1)
    memory_bytes = models.PositiveBigIntegerField(default=0)
    memory_free_bytes = models.PositiveBigIntegerField(default=0)
    load1 = models.FloatField(default=0.0)
    cgroup_version = models.CharField(max_length=4, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The agent and the runtime worker are separate processes: a launch needs the worker.
    worker_heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_alive(self) -> bool:
        return _recent(self.heartbeat_at)

    @property
    def worker_alive(self) -> bool:
        return _recent(self.worker_heartbeat_at)

    @property
    def queue(self) -> str:
        return node_queue(self.name)
