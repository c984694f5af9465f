"""`/ws/labs/instances/<id>/`: a lab page's live view of its instance. Who
asks is checked before accept (another student's instance: 4404); then the
current state is sent, and again, as its user may see it, each time the
node says a step or the instance changed. The socket takes no input."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from dashboard.labs.push import LAYER
from dashboard.labs.selectors import lab_instance_get_for_user, lab_instance_view
from dashboard.revocation import Revalidating

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class LabInstanceConsumer(Revalidating, AsyncJsonWebsocketConsumer):
    channel_layer_alias = LAYER
    group = None

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            self.instance = await database_sync_to_async(lab_instance_get_for_user)(
                user=user, instance_id=self.scope["url_route"]["kwargs"]["instance_id"]
            )
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Joined before the first read: a change in between is sent twice, not lost.
        self.group = self.instance.group
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.watch_access()
        await self._send_view(None)

    def _view(self, step_id):
        self.instance.refresh_from_db(fields=["status", "setup_output", "ready_at", "container"])
        return lab_instance_view(instance=self.instance, user=self.scope["user"], step_id=step_id)

    async def _send_view(self, step_id):
        await self.send_json({"type": "instance", **await database_sync_to_async(self._view)(step_id)})

    async def lab_changed(self, message):
        await self._send_view(message.get("step"))

    def still_allowed(self, user) -> bool:
        return bool(lab_instance_get_for_user(user=user, instance_id=self.instance.pk))

    async def disconnect(self, code):
        self.stop_watching()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
