"""Writes of the sampler: the limit hits it detects become container
events (pushed to the graphs by signals.event_push, like every event)."""

from dashboard.containers.models import Container, Event
from dashboard.containers.events import event_record


def container_limit_event_record(*, container_id: int, kind: str, data: dict) -> Event | None:
    container = Container.objects.filter(pk=container_id).first()
    if container is None:
        return None
    return event_record(container=container, kind=kind, data=data)
