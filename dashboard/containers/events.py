"""A container's events (created, started, OOM, ...), recorded by the web side and the node alike."""

from django.utils import timezone

from dashboard.containers.models import Container, Event


def event_record(*, container: Container, kind: str, data: dict | None = None) -> Event:
    return Event.objects.create(container=container, kind=kind, data=data or {}, at=timezone.now())
