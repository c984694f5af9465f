"""Tells the images pages that an image changed: its status, or its pull's
bytes per layer. The message carries the image's id and what changed; each
page's socket (consumers.py) forwards it only if its user may see that image.
A pull's progress is sent at most twice a second per image."""

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

LAYER = "default"
GROUP = "images"
MIN_INTERVAL = 0.5


def image_changed(*, image_id: int, **fields) -> None:
    # The row holds the truth: a page that misses this reads it when its socket reconnects.
    try:
        async_to_sync(get_channel_layer(LAYER).group_send)(GROUP, {"type": "image.changed", "id": image_id, **fields})
    except (OSError, RedisError) as exc:
        logger.warning("image %s: change not pushed: %s", image_id, exc)


class PullProgress:
    """The runtime's progress callback for one pull: keeps each layer's bytes and
    sends them all, no more often than MIN_INTERVAL."""

    def __init__(self, image_id: int):
        self.image_id = image_id
        self.layers: dict[str, dict] = {}
        self.sent_at = 0.0

    def __call__(self, event: dict) -> None:
        self.layers[event["layer"]] = {
            "layer": event["layer"], "index": event["index"], "count": event["count"],
            "done": event["done"], "total": event["total"], "status": event["status"],
        }
        now = time.monotonic()
        if now - self.sent_at < MIN_INTERVAL:
            return
        self.sent_at = now
        layers = sorted(self.layers.values(), key=lambda layer: layer["index"])
        image_changed(image_id=self.image_id, status="importing", layers=layers)
