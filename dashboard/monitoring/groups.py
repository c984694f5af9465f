"""Channels group names and the messages sent to them, shared by the
sampler (sender) and the consumers (receivers)."""

from dashboard.containers.models import Event

# The channel layer alias (settings.CHANNEL_LAYERS) all stats messages go through.
LAYER = "stats"


def container_group(container_id: int) -> str:
    return f"stats.container.{container_id}"


def node_group(node_name: str) -> str:
    return f"stats.node.{node_name}"


def event_payload(event: Event) -> dict:
    return {"id": event.pk, "kind": event.kind, "t": round(event.at.timestamp(), 3), "data": event.data}


def event_message(event: Event) -> dict:
    return {"type": "stats.event", "event": event_payload(event)}
