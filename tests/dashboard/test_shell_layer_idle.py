"""The pub/sub channel layer of shells, logs and graphs leaves nothing
running in a process once its last socket has closed: a web server with no
browser connected does no periodic work (issue 19)."""

import asyncio

import pytest
from channels.layers import channel_layers, get_channel_layer

from dashboard.monitoring.groups import LAYER as STATS_LAYER
from dashboard.shell.wire import LAYER as SHELL_LAYER


def receivers():
    return [t for t in asyncio.all_tasks() if "_do_receiving" in repr(t.get_coro())]


@pytest.fixture
def fresh_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.mark.parametrize("alias", [SHELL_LAYER, STATS_LAYER])
async def test_the_layer_listens_while_a_socket_is_open_and_stops_after(fresh_layers, alias):
    layer = get_channel_layer(alias)
    channel = await layer.new_channel()
    await layer.group_add("watchers", channel)
    first = asyncio.create_task(layer.receive(channel))
    await layer.group_send("watchers", {"type": "hello"})
    assert await asyncio.wait_for(first, 10) == {"type": "hello"}
    assert receivers()

    # A consumer closing cancels its pending receive: the layer unsubscribes it.
    pending = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.1)
    await layer.group_discard("watchers", channel)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    async with asyncio.timeout(10):
        while receivers():
            await asyncio.sleep(0.05)

    # And a new socket is served again.
    again = await layer.new_channel()
    got = asyncio.create_task(layer.receive(again))
    await asyncio.sleep(0.1)
    await layer.send(again, {"type": "again"})
    assert await asyncio.wait_for(got, 10) == {"type": "again"}
    await layer.flush()
