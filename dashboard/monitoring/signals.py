"""Every container event, whoever records it (web, worker, reconciliation,
sampler), is pushed to the container's stats group once committed, so the
graphs mark lifecycle changes and limit hits live."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from dashboard.containers.models import Event
from dashboard.monitoring.groups import LAYER, container_group, event_message

log = logging.getLogger(__name__)


def _push(event: Event) -> None:
    try:
        async_to_sync(get_channel_layer(LAYER).group_send)(container_group(event.container_id), event_message(event))
    except Exception:
        # The event is stored; a page that missed the push gets it with the next history.
        log.warning("could not push event %s of container %s", event.kind, event.container_id, exc_info=True)


@receiver(post_save, sender=Event, dispatch_uid="monitoring.event_push")
def event_push(sender, instance: Event, created: bool, **kwargs) -> None:
    if created:
        transaction.on_commit(lambda: _push(instance))
