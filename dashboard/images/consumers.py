"""`/ws/images/`: the images page's live view of its images' statuses and pull
progress. Who asks is checked before accept; each change the node reports
(push.py) is forwarded only if this socket's user may see that image. The
socket takes no input."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard.images.push import GROUP, LAYER
from dashboard.images.selectors import images_visible_to
from dashboard.revocation import Revalidating

CLOSE_FORBIDDEN = 4403
FIELDS = ("status", "error", "size_bytes", "file_count", "format", "layers")


class ImageListConsumer(Revalidating, AsyncJsonWebsocketConsumer):
    channel_layer_alias = LAYER
    joined = False

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        self.watch_access()

    def _visible(self, image_id: int) -> bool:
        return images_visible_to(user=self.scope["user"]).filter(id=image_id).exists()

    async def image_changed(self, message):
        if await database_sync_to_async(self._visible)(message["id"]):
            await self.send_json({"id": message["id"], **{k: message[k] for k in FIELDS if k in message}})

    def still_allowed(self, user) -> bool:
        return user.is_authenticated

    async def disconnect(self, code):
        self.stop_watching()
        if self.joined:
            await self.channel_layer.group_discard(GROUP, self.channel_name)
