"""An open whose reply is slow crosses the consumer's retry: the node agent
answers both, counting the second reply's replay in the socket's stream
although the socket shows only the first. The socket accounts for the
replay it drops; otherwise its next output looks like a loss, the agent
resets the screen from its replay buffer and what was printed in between
is gone (bench/shell_latency.py lost its markers so under load).

The agent here is a stand-in on the node's channel that answers twice."""

import asyncio

import pytest
from channels.layers import channel_layers, get_channel_layer
from shell_helpers import ShellClient, shell_path

from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.shell.wire import LAYER, node_channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner_cookie(session_cookie_for, owner):
    return session_cookie_for(owner)


@pytest.fixture
def running_row(owner, node):
    image = Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="x-1")
    return Container.objects.create(owner=owner, image=image, node=node, name="web", status="running",
                                    runtime_id="r1")


@pytest.fixture
async def layer():
    channel_layers.backends.clear()
    yield get_channel_layer(LAYER)
    channel_layers.backends.clear()


async def test_a_repeated_attach_reply_neither_resets_the_screen_nor_holds_acks_back(
    layer, running_row, node, owner_cookie
):
    agent = node_channel(node.name)

    async def heard_next():
        """The agent channel's next message but the probes below. The wait
        outlasts the database's busy timeout (20 s), which a loaded suite's
        other writers can make the socket's session row wait for."""
        try:
            while (message := await asyncio.wait_for(layer.receive(agent), 30))["type"] == "probe":
                pass
        except TimeoutError:
            try:
                state = f"closed with {await client.closed(timeout=1)}"
            except Exception as exc:  # the consumer's own failure, or still open
                state = f"not closed ({exc!r})"
            raise AssertionError(f"the agent channel heard nothing; the socket got {client.controls}, "
                                 f"{state}") from None
        return message

    # Subscribed before the socket opens, so its open request is heard: a
    # receive subscribes when it starts, which a loaded machine may delay,
    # so probes go out until one comes back (pub/sub keeps no message for
    # a channel nobody listens on yet).
    first = asyncio.create_task(layer.receive(agent))
    while not first.done():
        await layer.send(agent, {"type": "probe"})
        await asyncio.wait({first}, timeout=0.1)
    assert first.result()["type"] == "probe"
    client = ShellClient(shell_path(running_row), owner_cookie)
    await client.connect()
    request = await heard_next()
    assert request["type"] == "open"
    reply, key = request["reply"], request["session"]
    attached = {"type": "shell.attached", "session": key, "readonly": False}
    await layer.send(reply, {**attached, "replay": b"$ ", "end": 2})
    await layer.send(reply, {**attached, "replay": b"$ ", "end": 4})
    await layer.send(reply, {"type": "shell.output", "data": b"hello", "end": 9})
    await client.read_until(b"$ hello")

    heard = []
    while not any(m["type"] == "ack" and m["upto"] == 9 for m in heard):
        heard.append(await heard_next())
    assert [m["type"] for m in heard if m["type"] not in ("ack", "open")] == []
    assert client.screen == b"$ hello"
    await client.disconnect()
