"""Reads of nodes: which live node a new container goes to, and the admin overview."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from dashboard.containers.models import Container
from dashboard.nodes.models import Node


def nodes_with_load():
    active = Q(containers__status__in=Container.ACTIVE)
    return Node.objects.annotate(active_containers=Count("containers", filter=active)).order_by("name")


def node_pick_for_launch(*, cpus: float | None = None) -> Node | None:
    """The least-loaded node whose worker is alive (fewest active containers per cpu,
    then free memory); when none is alive, the most recently seen node, so the launch
    waits in its queue and runs when that worker returns."""
    fresh = timezone.now() - timedelta(seconds=settings.NODE_DEAD_AFTER_SECONDS)
    nodes = list(nodes_with_load())
    live = [n for n in nodes if n.worker_heartbeat_at and n.worker_heartbeat_at >= fresh and (cpus or 0) <= n.cpus]
    if live:
        return min(live, key=lambda n: (n.active_containers / max(n.cpus, 1), -n.memory_free_bytes, n.name))
    seen = [n for n in nodes if n.worker_heartbeat_at or n.heartbeat_at]
    if not seen:
        return nodes[0] if nodes else None
    return max(seen, key=lambda n: max(t for t in (n.worker_heartbeat_at, n.heartbeat_at) if t))
