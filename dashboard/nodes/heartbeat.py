"""The agent's heartbeat: keeps this node's row fresh and the UI in line with
the runtime (containers that died while nobody watched become exited)."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from dashboard.containers.node import containers_reconcile_node
from dashboard.nodes.services import node_heartbeat

log = logging.getLogger(__name__)


def beat(node_name: str) -> None:
    close_old_connections()
    try:
        node_heartbeat(name=node_name)
        containers_reconcile_node(node_name=node_name)
    finally:
        close_old_connections()


async def run(node_name: str) -> None:
    while True:
        try:
            await sync_to_async(beat, thread_sensitive=False)(node_name)
        except Exception:
            # A database or runtime hiccup must not stop the heartbeat for good.
            log.exception("heartbeat of node %s failed", node_name)
        await asyncio.sleep(settings.NODE_HEARTBEAT_SECONDS)
