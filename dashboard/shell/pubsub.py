"""The channel layer of shells, logs and live graphs (settings.CHANNEL_LAYERS
"shell" and "stats"): channels_redis's Redis pub/sub layer, whose receiving
task wakes every 100 ms for as long as the process lives once it has
subscribed to anything, even after every socket has closed. Here it waits on
Redis instead while something is subscribed and ends when nothing is, so a
web server with no socket open does no work."""

import asyncio
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection, _wrap_close
from channels_redis.utils import decode_hosts

log = logging.getLogger(__name__)
RETRY_SECONDS = 1


class QuietShardConnection(RedisSingleShardConnection):
    async def subscribe(self, channel):
        await super().subscribe(channel)
        # redis-py records the channel only once SUBSCRIBE is sent: the
        # receiver started before that may have found nothing and ended.
        self._ensure_receiver()

    def _ensure_receiver(self):
        if self._receive_task is None or self._receive_task.done():
            self._receive_task = asyncio.ensure_future(self._do_receiving())

    async def _do_receiving(self):
        # The last unsubscribe's confirmation empties pubsub.channels: the loop ends.
        while self._pubsub is not None and self._pubsub.subscribed:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                log.exception("pub/sub receive failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._receive_message(message)


class QuietLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts, **kwargs)
        self._shards = [QuietShardConnection(host, self) for host in decode_hosts(hosts)]


class QuietPubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = QuietLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer
