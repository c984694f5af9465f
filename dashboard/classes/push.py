"""Tells a class's grid sockets that something in the class changed; each
socket reads the grid itself, at most once a second."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

LAYER = "default"


def class_changed(*, class_id: int) -> None:
    """After the current transaction commits (the sockets read what it wrote)."""

    def send():
        async_to_sync(get_channel_layer(LAYER).group_send)(f"class-{class_id}", {"type": "class.changed"})

    transaction.on_commit(send)
