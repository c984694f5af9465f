"""WebSockets of the graphs. Both check who is asking before accepting;
an unauthorized socket is closed (4403 not logged in, 4404 not yours to
see) without a single message."""

import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from dashboard.containers.selectors import container_get_for_user
from dashboard.revocation import Revalidating
from dashboard.monitoring import history
from dashboard.monitoring.groups import LAYER, container_group, node_group
from dashboard.monitoring.selectors import events_since, overview_scope, running_visible

SPARKLINE_SECONDS = 120


def _query_range(scope) -> str:
    asked = parse_qs(scope.get("query_string", b"").decode()).get("range", [history.DEFAULT_RANGE])[0]
    return asked if asked in history.RANGES else history.DEFAULT_RANGE


class ContainerStatsConsumer(Revalidating, AsyncJsonWebsocketConsumer):
    """`/ws/containers/<id>/stats/`: the history of the asked range, then
    every sample and event of the container as they come."""

    channel_layer_alias = LAYER
    group = None

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4403)
            return
        try:
            self.container = await database_sync_to_async(container_get_for_user)(
                user=user, container_id=self.scope["url_route"]["kwargs"]["container_id"]
            )
        except Http404:
            await self.close(code=4404)
            return
        # Joined before reading history: a sample written meanwhile arrives
        # twice (the page drops the older copy) rather than never.
        self.group = container_group(self.container.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.watch_access()
        await self._send_history(_query_range(self.scope))

    async def receive_json(self, content, **kwargs):
        asked = content.get("range") if isinstance(content, dict) else None
        if asked not in history.RANGES:
            await self.send_json({"type": "error", "error": f"range must be one of {', '.join(history.RANGES)}"})
            return
        await self._send_history(asked)

    async def _send_history(self, range_name: str):
        now = time.time()
        samples = await history.container_history(self.container.pk, range_name, now=now)
        seconds, _ = history.RANGES[range_name]
        events = await database_sync_to_async(events_since)(container=self.container, since=now - seconds)
        await self.send_json({"type": "history", "range": range_name, "samples": samples, "events": events})

    async def stats_sample(self, message):
        await self.send_json({"type": "sample", **message["sample"]})

    async def stats_event(self, message):
        await self.send_json({"type": "event", **message["event"]})

    def still_allowed(self, user) -> bool:
        return not container_get_for_user(user=user, container_id=self.container.pk).is_gone

    async def disconnect(self, code):
        self.stop_watching()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)


class OverviewStatsConsumer(Revalidating, AsyncJsonWebsocketConsumer):
    """`/ws/stats/overview/`: host figures of every node and the running
    containers the viewer may see (a student: their own), with a couple of
    minutes of history for the sparklines."""

    channel_layer_alias = LAYER
    groups_joined: list[str] = []

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4403)
            return
        nodes, self.owner_id = await database_sync_to_async(overview_scope)(user=user)
        self.groups_joined = [node_group(n) for n in nodes]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.watch_access()
        containers = await database_sync_to_async(running_visible)(owner_id=self.owner_id)
        recent = await history.recent_samples([c["id"] for c in containers], SPARKLINE_SECONDS)
        for c in containers:
            c["samples"] = recent.get(c["id"], [])
        hosts = {n: await history.host_history(n, SPARKLINE_SECONDS) for n in nodes}
        await self.send_json({"type": "history", "containers": containers, "hosts": hosts})

    async def stats_node(self, message):
        containers = [
            c for c in message["containers"] if self.owner_id is None or c["owner_id"] == self.owner_id
        ]
        await self.send_json({"type": "node", "node": message["node"], "host": message["host"], "containers": containers})

    def still_allowed(self, user) -> bool:
        # A teacher who is one no more would still see everyone's containers.
        return overview_scope(user=user)[1] == self.owner_id

    async def disconnect(self, code):
        self.stop_watching()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

