"""The stats WebSockets through channels' WebsocketCommunicator, with the
real Redis channel layer and history: who may watch, what comes first,
what comes live."""

import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from dashboard.containers.models import Container, Event
from dashboard.containers.events import event_record
from dashboard.images.models import Image
from dashboard.monitoring import history
from dashboard.monitoring.groups import LAYER, container_group, node_group
from dashboard.monitoring.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
APP = URLRouter(websocket_urlpatterns)


def _forget_history(container_id):
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(f"terrarium:stats:c:{container_id}:s", f"terrarium:stats:c:{container_id}:m")
    r.close()


def _container(owner, node, name):
    image, _ = Image.objects.get_or_create(name="img", defaults={"owner": owner, "node": node, "status": "ready"})
    container = Container.objects.create(
        owner=owner, image=image, node=node, name=name, status=Container.Status.RUNNING, memory_bytes=32 << 20
    )
    _forget_history(container.pk)
    return container


@pytest.fixture
def container(owner, node):
    """owner's running container as the database sees it (no runtime needed here)."""
    c = _container(owner, node, "web")
    yield c
    _forget_history(c.pk)


def sample(t, **values):
    return {"t": t, "cpu_percent": 12.5, "memory_bytes": 1 << 20, "memory_working_set_bytes": 1 << 19,
            "memory_limit_bytes": 32 << 20, "pids": 2, "pids_limit": 64, "net_rx_bps": 0, "net_tx_bps": 0, **values}


async def seed(container_id, samples):
    pipe = history.client().pipeline(transaction=False)
    for s in samples:
        history.samples_add(pipe, [(container_id, s)], [])
    await pipe.execute()


async def connect(user, path):
    communicator = WebsocketCommunicator(APP, path)
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_owner_gets_history_then_samples(owner, container):
    now = time.time()
    await seed(container.pk, [sample(now - 20), sample(now - 10)])
    ws, connected, _ = await connect(owner, f"/ws/containers/{container.pk}/stats/")
    assert connected
    first = await ws.receive_json_from(timeout=5)
    assert first["type"] == "history" and first["range"] == "15m"
    assert [s["t"] for s in first["samples"]] == [now - 20, now - 10]
    await get_channel_layer(LAYER).group_send(container_group(container.pk), {"type": "stats.sample", "sample": sample(now)})
    live = await ws.receive_json_from(timeout=5)
    assert live["type"] == "sample" and live["t"] == now and live["memory_limit_bytes"] == 32 << 20
    await ws.disconnect()


async def test_other_student_is_closed_with_4404_and_told_nothing(other_student, container):
    ws, connected, code = await connect(other_student, f"/ws/containers/{container.pk}/stats/")
    assert (connected, code) == (False, 4404)
    assert await ws.receive_nothing()


async def test_anonymous_visitor_is_closed_with_4403(container):
    ws, connected, code = await connect(AnonymousUser(), f"/ws/containers/{container.pk}/stats/")
    assert (connected, code) == (False, 4403)
    assert await ws.receive_nothing()


async def test_unknown_container_is_closed_with_4404(owner, container):
    ws, connected, code = await connect(owner, f"/ws/containers/{container.pk + 1000}/stats/")
    assert (connected, code) == (False, 4404)


async def test_teacher_may_watch_a_students_container(teacher, container):
    ws, connected, _ = await connect(teacher, f"/ws/containers/{container.pk}/stats/")
    assert connected
    assert (await ws.receive_json_from(timeout=5))["type"] == "history"
    await ws.disconnect()


async def test_range_asked_in_the_query_or_a_message_is_the_one_sent(owner, container):
    ws, connected, _ = await connect(owner, f"/ws/containers/{container.pk}/stats/?range=1h")
    assert (await ws.receive_json_from(timeout=5))["range"] == "1h"
    await ws.send_json_to({"range": "7d"})
    assert (await ws.receive_json_from(timeout=5))["range"] == "7d"
    await ws.send_json_to({"range": "1y"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "error"
    await ws.disconnect()


async def test_events_recorded_anywhere_are_pushed_and_kept_for_the_next_history(owner, container):
    ws, _, _ = await connect(owner, f"/ws/containers/{container.pk}/stats/")
    assert (await ws.receive_json_from(timeout=5))["events"] == []
    await sync_to_async(event_record)(container=container, kind=Event.Kind.OOM, data={"oom_kills": 1})
    pushed = await ws.receive_json_from(timeout=5)
    assert pushed["type"] == "event" and pushed["kind"] == "oom" and pushed["data"] == {"oom_kills": 1}
    await ws.send_json_to({"range": "15m"})
    again = await ws.receive_json_from(timeout=5)
    assert [e["kind"] for e in again["events"]] == ["oom"]
    assert again["events"][0]["t"] == pushed["t"]
    await ws.disconnect()


async def test_student_overview_shows_only_their_own_containers(owner, other_student, node, container):
    theirs = await sync_to_async(_container)(other_student, node, "theirs")
    ws, connected, _ = await connect(owner, "/ws/stats/overview/")
    assert connected
    first = await ws.receive_json_from(timeout=5)
    assert first["type"] == "history" and [c["id"] for c in first["containers"]] == [container.pk]
    rows = [{"id": c.pk, "owner_id": c.owner_id, "name": c.name, **sample(time.time())} for c in (container, theirs)]
    await get_channel_layer(LAYER).group_send(
        node_group(node.name), {"type": "stats.node", "node": node.name, "host": {"cpu_percent": 3.0}, "containers": rows}
    )
    live = await ws.receive_json_from(timeout=5)
    assert live["type"] == "node" and [c["id"] for c in live["containers"]] == [container.pk]
    await ws.disconnect()


async def test_teacher_overview_shows_everyones_containers(teacher, other_student, node, container):
    theirs = await sync_to_async(_container)(other_student, node, "theirs")
    ws, _, _ = await connect(teacher, "/ws/stats/overview/")
    first = await ws.receive_json_from(timeout=5)
    assert sorted(c["id"] for c in first["containers"]) == sorted([container.pk, theirs.pk])
    await ws.disconnect()


async def test_anonymous_overview_is_closed_with_4403():
    ws, connected, code = await connect(AnonymousUser(), "/ws/stats/overview/")
    assert (connected, code) == (False, 4403)
