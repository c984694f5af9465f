"""The container page's logs: the main process's output relayed from the
node's log file by the agent, following live, and as a download."""

import asyncio
import struct
import time

import pytest
from django.conf import settings
from django.test import AsyncClient
from shell_helpers import ShellClient

from dashboard.containers.models import Container, Event
from dashboard.containers.node import container_launch_on_node
from dashboard.containers.events import event_record
from dashboard.shell import logrelay
from dashboard.shell.wire import READ_BYTES
from runtime import Runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TALKER = "echo hello-logs; printf 'oops-\\342\\202\\254\\n' >&2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"


@pytest.fixture
def talker(busybox_image, owner, node):
    """`owner`'s container whose main process writes to stdout and stderr."""
    container = Container.objects.create(
        owner=owner, image=busybox_image, node=node, name="talker", command=["sh", "-c", TALKER]
    )
    event_record(container=container, kind=Event.Kind.CREATED)
    container_launch_on_node(container_id=container.id)
    container.refresh_from_db()
    assert container.status == "running", container.status_detail
    yield container
    runtime().delete(container.runtime_name, force=True)


def runtime():
    return Runtime(root=settings.TERRARIUM_ROOT)


# Waits for /tmp/go, then prints CHATTER_LINES short lines, one write each, as fast as it can.
CHATTER_LINES = 5000
CHATTER = ("while [ ! -e /tmp/go ]; do sleep 0.1; done; "
           f"i=0; while [ $i -lt {CHATTER_LINES} ]; do echo line-$i; i=$((i+1)); done; echo chatter-done; sleep 3600")


@pytest.fixture
def chatter(busybox_image, owner, node):
    container = Container.objects.create(
        owner=owner, image=busybox_image, node=node, name="chatter", command=["sh", "-c", CHATTER]
    )
    container_launch_on_node(container_id=container.id)
    container.refresh_from_db()
    assert container.status == "running", container.status_detail
    yield container
    runtime().delete(container.runtime_name, force=True)


@pytest.fixture
def cookies(session_cookie_for, owner, other_student):
    return {user.username: session_cookie_for(user) for user in (owner, other_student)}


def records(frame: bytes):
    offset = 0
    while offset < len(frame):
        stream, length = struct.unpack_from(">BI", frame, offset)
        yield stream, frame[offset + 5 : offset + 5 + length]
        offset += 5 + length


class LogsReader:
    def __init__(self, client: ShellClient):
        self.client = client
        self.streams = {1: b"", 2: b""}
        self.seen = 0

    async def until(self, predicate):
        def collect():
            for frame in self.client.frames[self.seen :]:
                for stream, data in records(frame):
                    self.streams[stream] += data
            self.seen = len(self.client.frames)
            return predicate(self.streams)

        await self.client.until(collect)


async def logs_socket(container, cookie):
    client = ShellClient(f"/ws/containers/{container.pk}/logs/", cookie)
    client.keep_frames = True
    return await client.connect()


async def test_logs_follow_the_main_process_live(shell_agent, talker, cookies):
    client = await logs_socket(talker, cookies["owner"])
    reader = LogsReader(client)
    await reader.until(lambda s: b"hello-logs\n" in s[1] and "oops-€".encode() in s[2])
    await reader.until(lambda s: b"tick-3\n" in s[1])
    first_ticks = reader.streams[1].count(b"tick-")
    await reader.until(lambda s: s[1].count(b"tick-") > first_ticks + 2)
    assert client.controls[0] == {"type": "start"}
    await client.disconnect()


async def test_logs_end_when_the_container_stops(shell_agent, talker, cookies):
    client = await logs_socket(talker, cookies["owner"])
    reader = LogsReader(client)
    await reader.until(lambda s: b"tick-2\n" in s[1])
    await asyncio.to_thread(runtime().stop, talker.runtime_name, timeout=1)
    assert await client.closed(timeout=30) == 1000
    assert {"type": "end"} in client.controls


async def test_another_students_logs_socket_is_refused(shell_agent, talker, cookies):
    client = await logs_socket(talker, cookies["other_student"])
    assert await client.closed() == 4404
    assert client.frames == [] and client.controls == []


async def test_logs_download_has_the_whole_output(shell_agent, talker, owner, cookies):
    client = await logs_socket(talker, cookies["owner"])
    await LogsReader(client).until(lambda s: b"tick-3\n" in s[1])
    await client.disconnect()
    browser = AsyncClient()
    await browser.aforce_login(owner)
    response = await browser.get(f"/containers/{talker.pk}/logs/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="talker.log"'
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert body.startswith(b"hello-logs\n")
    assert "oops-€".encode() in body and b"tick-3\n" in body


async def test_another_student_cannot_download_the_logs(shell_agent, talker, other_student):
    browser = AsyncClient()
    await browser.aforce_login(other_student)
    response = await browser.get(f"/containers/{talker.pk}/logs/download/")
    assert response.status_code == 404



async def test_a_burst_of_short_lines_follows_in_few_frames(shell_agent, chatter, cookies):
    client = await logs_socket(chatter, cookies["owner"])
    await client.until(lambda: {"type": "start"} in client.controls)
    began = time.monotonic()
    go = await asyncio.to_thread(runtime().exec, chatter.runtime_name, ["touch", "/tmp/go"])
    assert await asyncio.to_thread(go.wait) == 0
    go.close()
    reader = LogsReader(client)
    await reader.until(lambda s: b"chatter-done\n" in s[1])
    elapsed = time.monotonic() - began
    assert reader.streams[1].count(b"\n") == CHATTER_LINES + 1
    # The coalescing rule (logrelay.LogFollower._gather): a batch that follows
    # the previous one within COALESCE_SECONDS gathers for COALESCE_SECONDS
    # after its first entry unless READ_BYTES fill it; one that does not comes
    # after a pause of at least COALESCE_SECONDS. Each frame thus has a
    # COALESCE_SECONDS of the burst's time to itself, however slowly a busy
    # machine delivers the burst (the first frame's pause began before
    # `began`): a bound that holds under any load, where lines / 50 did not
    # (125 frames once). Coalesced here: 4 to 65 frames against bounds of 60
    # to 190. Not coalesced, a frame went whenever the relay found an entry
    # alone: over the bound in about half the runs (140 to 900 frames, the
    # log having taken the burst as hundreds of writes), as often as over
    # lines / 50; as few as 3 frames when it took the burst as a handful.
    burst_bytes = len(reader.streams[1])
    bound = int(elapsed / logrelay.COALESCE_SECONDS) + burst_bytes // READ_BYTES + 2
    print(f"{CHATTER_LINES} lines in {len(client.frames)} frames, {elapsed:.2f} s, bound {bound}")
    assert len(client.frames) <= bound
