"""`/ws/classes/<id>/`: the teacher's grid, live. Only the class's teacher
and assistants (checked before accept). The socket listens on the class's
group (enrolments, raised hands, resets, new instances) and on each
student's instance group (check results and instance states, from the labs'
node half); whatever arrives, it sends the grid at most once a second: the
first change at once, the rest of that second in one message after it."""

import asyncio
import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404

from dashboard.classes.grid import class_grid
from dashboard.classes.push import LAYER
from dashboard.classes.selectors import class_get_for_user
from dashboard.labs.models import LabInstance
from dashboard.revocation import Revalidating

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
MIN_INTERVAL = 1.0


class ClassGridConsumer(Revalidating, AsyncJsonWebsocketConsumer):
    channel_layer_alias = LAYER
    klass = None

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            self.klass = await database_sync_to_async(class_get_for_user)(
                user=user, class_id=self.scope["url_route"]["kwargs"]["class_id"])
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.groups_joined: set[str] = set()
        self.last_sent, self.dirty, self.flush_task = 0.0, False, None
        # Joined before the first read: a change in between is sent twice, not lost.
        await self._join(self.klass.group)
        await self._join_instances()
        await self.accept()
        self.watch_access()
        await self._send_grid()

    async def _join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    def _instance_groups(self) -> list[str]:
        instances = LabInstance.objects.filter(lab_id=self.klass.lab_id,
                                               student__enrolments__klass_id=self.klass.pk)
        return [instance.group for instance in instances.only("pk")]

    async def _join_instances(self) -> None:
        for group in await database_sync_to_async(self._instance_groups)():
            await self._join(group)

    def _grid_text(self) -> str:
        return json.dumps({"type": "grid", **class_grid(klass=self.klass)}, cls=DjangoJSONEncoder)

    async def _send_grid(self) -> None:
        await self.send(text_data=await database_sync_to_async(self._grid_text)())
        # After the send: the next one leaves a full second after this one left.
        self.last_sent = time.monotonic()

    async def _flush(self) -> None:
        # A change during a send's read marks the grid dirty again: it goes a second later, not lost.
        try:
            while self.dirty:
                await asyncio.sleep(max(0.0, self.last_sent + MIN_INTERVAL - time.monotonic()))
                self.dirty = False
                await self._join_instances()
                await self._send_grid()
        finally:
            self.flush_task = None

    def _changed(self) -> None:
        self.dirty = True
        if self.flush_task is None:
            self.flush_task = asyncio.create_task(self._flush())

    async def class_changed(self, message):
        self._changed()

    async def lab_changed(self, message):
        self._changed()

    def still_allowed(self, user) -> bool:
        return bool(class_get_for_user(user=user, class_id=self.klass.pk))

    async def disconnect(self, code):
        self.stop_watching()
        if self.flush_task is not None:
            self.flush_task.cancel()
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
