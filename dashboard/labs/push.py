"""Tells the pages of an instance that something changed. The message names
only what changed; each page's socket reads what its own user may see."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

LAYER = "default"


def instance_changed(*, instance_group: str, step_id: str | None = None) -> None:
    layer = get_channel_layer(LAYER)
    async_to_sync(layer.group_send)(instance_group, {"type": "lab.changed", "step": step_id})
