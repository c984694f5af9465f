"""The sampler against real containers (root, real cgroups), real Redis
and the real stats socket: figures match the cgroup files, a memory bomb
climbs to its limit and its OOM kill is marked live, Redis restarting
does not stop it."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings

from dashboard.containers.models import Container
from dashboard.containers.node import container_launch_on_node
from dashboard.monitoring.routing import websocket_urlpatterns
from dashboard.monitoring.sampler import Sampler
from runtime import Runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
MiB = 1 << 20
# The tutorial's memory bomb, fed at 2 MiB/s so the graph has time to show the climb.
MEMORY_BOMB = 'sleep 2; random="$(while :; do dd if=/dev/urandom bs=1M count=2 2>/dev/null; sleep 1; done)"'


def _forget_history(container_id):
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(f"terrarium:stats:c:{container_id}:s", f"terrarium:stats:c:{container_id}:m")
    r.close()


@pytest.fixture(autouse=True)
def _forget_host_history(node):
    yield
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(f"terrarium:stats:n:{node.name}:s")
    r.close()


@asynccontextmanager
async def sampling(node_name):
    task = asyncio.create_task(Sampler(node_name).run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def stats_socket(user, container):
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/containers/{container.pk}/stats/")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from(timeout=10))["type"] == "history"
    try:
        yield ws
    finally:
        await ws.disconnect()


async def next_of(ws, kind, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        message = await ws.receive_json_from(timeout=max(deadline - time.monotonic(), 0.01))
        if message["type"] == kind:
            return message


def _usage_file(container) -> str:
    return f"/sys/fs/cgroup/memory/{os.environ['TERRARIUM_CGROUP_PARENT']}/{container.runtime_id}/memory.usage_in_bytes"


def _read_int(path) -> int:
    with open(path) as f:
        return int(f.read())


@pytest.mark.v1only
async def test_a_samples_memory_figure_is_the_cgroup_files(owner, node, running_container):
    _forget_history(running_container.pk)
    async with sampling(node.name), stats_socket(owner, running_container) as ws:
        for _ in range(10):
            before = _read_int(_usage_file(running_container))
            sample = await next_of(ws, "sample")
            after = _read_int(_usage_file(running_container))
            if before == after:
                break
        assert before == after, "memory usage never held still for a tick"
        assert sample["memory_bytes"] == before
        assert sample["memory_limit_bytes"] == 64 * MiB
        assert sample["pids"] == 1 and sample["pids_limit"] == 64
        assert sample["cpus"] == 0.5
    _forget_history(running_container.pk)


@pytest.fixture
def memory_bomb(busybox_image, owner, node):
    container = Container.objects.create(
        owner=owner, image=busybox_image, node=node, name="bomb", command=["sh", "-c", MEMORY_BOMB],
        memory_bytes=32 * MiB, pids_limit=64,
    )
    _forget_history(container.pk)
    yield container
    Runtime(root=settings.TERRARIUM_ROOT).delete(container.runtime_name, force=True)
    _forget_history(container.pk)


async def test_memory_bomb_climbs_to_its_limit_and_its_oom_kill_arrives_live(owner, node, memory_bomb):
    async with sampling(node.name):
        await sync_to_async(container_launch_on_node)(container_id=memory_bomb.id)
        await sync_to_async(memory_bomb.refresh_from_db)()
        assert memory_bomb.status == "running", memory_bomb.status_detail
        async with stats_socket(owner, memory_bomb) as ws:
            usage, events = [], []
            while "oom" not in [e["kind"] for e in events]:
                message = await ws.receive_json_from(timeout=30)
                if message["type"] == "sample":
                    usage.append(message["memory_bytes"])
                elif message["type"] == "event":
                    events.append(message)
            arrived = time.time()
    # The event may come from the kill counter, before the shim has recorded the exit.
    state = await sync_to_async(Runtime(root=settings.TERRARIUM_ROOT).wait)(memory_bomb.runtime_name, timeout=10)
    assert state.oom_killed
    killed = datetime.fromisoformat(state.finished_at.replace("Z", "+00:00")).timestamp()
    assert arrived - killed <= 2.0, f"the oom event came {arrived - killed:.2f} s after the kill"
    # Near the limit the kernel reclaims a little between ticks: rising, give or take a page or two.
    peak = usage.index(max(usage))
    assert peak >= 4 and all(b >= a - MiB for a, b in zip(usage[:peak], usage[1 : peak + 1])), usage
    assert max(usage) >= 24 * MiB, usage
    kinds = [e["kind"] for e in events]
    assert "memory_high" in kinds and kinds.index("memory_high") < kinds.index("oom"), (events, usage)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path, settings):
    """A Redis of this test's own, restartable; the dashboard points at it."""
    port = _free_port()
    cmd = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(tmp_path)]
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {alias: {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [url]}}
                               for alias, layer in settings.CHANNEL_LAYERS.items()}

    class Server:
        proc = None

        def start(self):
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
            client = redis.Redis.from_url(url)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            client.close()

        def stop(self):
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()

        def samples(self, container_id) -> int:
            client = redis.Redis.from_url(url)
            try:
                return client.zcard(f"terrarium:stats:c:{container_id}:s")
            finally:
                client.close()

    server = Server()
    server.start()
    yield server
    server.stop()


async def test_sampler_keeps_going_when_redis_restarts(owner, node, running_container, private_redis):
    async with sampling(node.name):
        while await sync_to_async(private_redis.samples)(running_container.pk) < 2:
            await asyncio.sleep(0.2)
        private_redis.stop()
        await asyncio.sleep(2.5)
        private_redis.start()
        while await sync_to_async(private_redis.samples)(running_container.pk) < 2:
            await asyncio.sleep(0.2)
        async with stats_socket(owner, running_container) as ws:
            assert (await next_of(ws, "sample"))["memory_limit_bytes"] == 64 * MiB
    _forget_history(running_container.pk)
