"""Writes to Node rows: the agent's heartbeat and the worker's liveness."""

import os

import psutil
from django.utils import timezone

from dashboard.nodes.models import Node


def _cgroup_version() -> str:
    return "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"


def node_heartbeat(*, name: str) -> Node:
    """Upsert this machine's capacity and load; the agent calls it every few seconds."""
    memory = psutil.virtual_memory()
    node, _ = Node.objects.update_or_create(
        name=name,
        defaults={
            "cpus": psutil.cpu_count() or 1,
            "memory_bytes": memory.total,
            "memory_free_bytes": memory.available,
            "load1": os.getloadavg()[0],
            "cgroup_version": _cgroup_version(),
            "heartbeat_at": timezone.now(),
        },
    )
    return node


def node_worker_seen(*, name: str) -> None:
    """Mark the node's runtime worker alive; creates the row on a worker's first start."""
    if not Node.objects.filter(name=name).update(worker_heartbeat_at=timezone.now()):
        node_heartbeat(name=name)
        Node.objects.filter(name=name).update(worker_heartbeat_at=timezone.now())
