"""Reads for the graphs: which dashboard containers the sampler is looking
at, the events to mark on a graph, what an overview viewer may see."""

from datetime import datetime, timezone

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container, Event
from dashboard.monitoring.groups import event_payload
from dashboard.nodes.models import Node


def containers_by_pk(*, pks: list[int], node_name: str) -> dict[int, Container]:
    return {c.pk: c for c in Container.objects.filter(pk__in=pks, node__name=node_name)}


def events_since(*, container: Container, since: float) -> list[dict]:
    start = datetime.fromtimestamp(since, tz=timezone.utc)
    return [event_payload(e) for e in Event.objects.filter(container=container, at__gte=start)]


def overview_scope(*, user) -> tuple[list[str], int | None]:
    """Node names whose groups the viewer listens to, and the only owner
    whose containers they may see (None: everyone's, for teachers)."""
    nodes = list(Node.objects.values_list("name", flat=True))
    return nodes, (None if is_teacher(user) else user.pk)


def running_visible(*, owner_id: int | None) -> list[dict]:
    qs = Container.objects.filter(status__in=[Container.Status.RUNNING, Container.Status.PAUSED])
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return list(qs.values("id", "name", "owner_id", "node__name", "status"))
