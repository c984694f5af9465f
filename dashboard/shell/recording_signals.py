"""A recording's file goes with its row (the row goes with its lab
instance, or as the instance's oldest beyond its limit): the node that
holds the file is told once the deletion is committed."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete

from dashboard.shell.models import Recording
from dashboard.shell.wire import LAYER, node_channel


def recording_deleted(sender, instance: Recording, **kwargs):
    channel, key = node_channel(instance.node_name), instance.key

    def send():
        async_to_sync(get_channel_layer(LAYER).send)(channel, {"type": "recording.forget", "key": key})

    transaction.on_commit(send)


def connect() -> None:
    post_delete.connect(recording_deleted, sender=Recording, dispatch_uid="shell-recording-deleted")
