"""Lab shells recorded as asciicast v2 by the real node agent (in this
process), capped in size, replayed on the teacher's side only, with a
check's moment in them, and gone with the lab instance."""

import asyncio
import json
import stat
from urllib.parse import parse_qs, urlparse

import pytest
from channels.db import database_sync_to_async
from class_helpers import make_class, make_lab
from channels.layers import get_channel_layer
from django.test import AsyncClient
from django.utils import timezone
from shell_helpers import ShellClient, shell_path

from dashboard.classes.models import Enrolment
from dashboard.labs.models import CheckRun, LabInstance
from dashboard.shell.models import Recording
from dashboard.shell.recording import SUFFIX
from dashboard.shell.wire import LAYER, node_channel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def lab_instance(running_container, owner, teacher, assistant, node, recording_dir):
    """`owner`'s instance of `teacher`'s lab in a class `assistant` helps in; its container runs."""
    lab = make_lab(teacher=teacher, node=node)
    klass = make_class(teacher=teacher, lab=lab)
    klass.assistants.add(assistant)
    Enrolment.objects.create(klass=klass, student=owner)
    return LabInstance.objects.create(lab=lab, student=owner, container=running_container, status="ready",
                                      ready_at=timezone.now())


@pytest.fixture
def cookies(session_cookie_for, owner):
    return {"owner": session_cookie_for(owner)}


async def open_shell(container, cookie, **size):
    client = await ShellClient(shell_path(container, **size), cookie).connect()
    return client, await client.session_id()


async def ended_recording(key: str) -> Recording:
    """The session's recording once the agent has closed it."""
    async with asyncio.timeout(20):
        while True:
            recording = await database_sync_to_async(Recording.objects.filter(key=key, ended_at__isnull=False).first)()
            if recording is not None:
                return recording
            await asyncio.sleep(0.05)


def read_cast(path):
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def screen_text(events) -> str:
    return "".join(data for _, kind, data in events if kind == "o")


async def fetch(user, path):
    client = AsyncClient()
    await database_sync_to_async(client.force_login)(user)
    response = await client.get(path)
    body = b"".join([chunk async for chunk in response]) if response.streaming else response.content
    return response, body


async def test_a_lab_shells_output_is_recorded_as_asciicast_v2(shell_agent, lab_instance, cookies, recording_dir):
    client, key = await open_shell(lab_instance.container, cookies["owner"], rows=30, cols=100)
    await client.type("echo first-$((6*7))\n")
    await client.read_until(b"first-42\r\n")
    await client.control(type="resize", rows=40, cols=120)
    await client.type("sleep 0.3; echo second-$((6*8))\n")
    await client.read_until(b"second-48\r\n")
    await client.type("exit\n")
    await client.closed()

    recording = await ended_recording(key)
    path = recording_dir / f"{key}.cast"
    header, events = read_cast(path)
    assert (header["version"], header["width"], header["height"]) == (2, 100, 30)
    assert (recording.instance_id, recording.user_id, recording.capped) == (lab_instance.pk, lab_instance.student_id,
                                                                              False)
    times = [event[0] for event in events]
    assert times == sorted(times) and 0 <= times[0] < times[-1]
    assert [data for _, kind, data in events if kind == "r"] == ["120x40"]
    text = screen_text(events)
    assert text.index("first-42\r\n") < text.index("second-48\r\n")
    assert recording.size_bytes == path.stat().st_size
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(recording_dir.stat().st_mode) == 0o700


async def test_a_shell_outside_a_lab_is_not_recorded(shell_agent, running_container, cookies, recording_dir):
    client, key = await open_shell(running_container, cookies["owner"])
    await client.type("echo plain\n")
    await client.read_until(b"plain\r\n")
    await client.type("exit\n")
    await client.closed()
    assert not await database_sync_to_async(Recording.objects.exists)()
    assert list(recording_dir.iterdir()) == []


async def test_the_cap_stops_the_recording_with_a_final_marker(shell_agent, lab_instance, cookies, recording_dir,
                                                               settings):
    settings.RECORDING_MAX_BYTES = 16384
    client, key = await open_shell(lab_instance.container, cookies["owner"])
    await client.type("yes recorded-line | head -n 5000; echo after-$((6*7))\n")
    await client.read_until(b"after-42\r\n")
    await client.type("exit\n")
    await client.closed()

    recording = await ended_recording(key)
    path = recording_dir / f"{key}.cast"
    _, events = read_cast(path)
    assert path.stat().st_size <= 16384 and recording.capped
    assert events[-1][1] == "m" and "limit" in events[-1][2]
    assert [e[1] for e in events[:-1]] == ["o"] * (len(events) - 1)
    assert "recorded-line" in screen_text(events) and "after-42" not in screen_text(events)


async def test_the_teacher_and_assistant_replay_it_and_no_one_else_does(
        shell_agent, lab_instance, cookies, recording_dir, teacher, assistant, owner, other_student, second_teacher):
    client, key = await open_shell(lab_instance.container, cookies["owner"])
    await client.type("echo replay-$((6*7))\n")
    await client.read_until(b"replay-42\r\n")
    await client.type("exit\n")
    await client.closed()
    recording = await ended_recording(key)
    cast = (recording_dir / f"{key}.cast").read_bytes()

    for user in (teacher, assistant):
        response, body = await fetch(user, f"/recordings/{recording.pk}.cast")
        assert (response.status_code, body) == (200, cast)
        page, html = await fetch(user, f"/recordings/{recording.pk}/")
        assert page.status_code == 200 and f'data-cast="/recordings/{recording.pk}.cast"'.encode() in html
        listing, html = await fetch(user, f"/classes/{(await lab_class(lab_instance)).pk}/recordings/")
        assert listing.status_code == 200 and f'href="/recordings/{recording.pk}/"'.encode() in html
    instance_page, html = await fetch(teacher, f"/labs/instances/{lab_instance.pk}/")
    assert instance_page.status_code == 200 and f'href="/recordings/{recording.pk}/"'.encode() in html
    for user in (owner, other_student, second_teacher):
        for path in (f"/recordings/{recording.pk}.cast", f"/recordings/{recording.pk}/"):
            response, _ = await fetch(user, path)
            assert response.status_code == 404, (user.username, path)
    response, _ = await fetch(second_teacher, f"/classes/{(await lab_class(lab_instance)).pk}/recordings/")
    assert response.status_code == 404


async def lab_class(instance):
    return await database_sync_to_async(instance.lab.classes.get)()


async def test_a_check_links_to_its_moment_in_the_recording(
        shell_agent, lab_instance, cookies, recording_dir, teacher, second_teacher):
    client, key = await open_shell(lab_instance.container, cookies["owner"])
    await client.type("echo before-check\n")
    await client.read_until(b"before-check\r\n")
    await asyncio.sleep(0.3)
    run = await database_sync_to_async(CheckRun.objects.create)(
        instance=lab_instance, step_id="make", state="failed", started_at=timezone.now())
    await asyncio.sleep(0.3)
    await client.type("echo after-check\n")
    await client.read_until(b"after-check\r\n")
    await client.type("exit\n")
    await client.closed()
    recording = await ended_recording(key)
    _, events = read_cast(recording_dir / f"{key}.cast")

    response, _ = await fetch(teacher, f"/checks/{run.pk}/recording/")
    assert response.status_code == 302
    link = urlparse(response["Location"])
    assert link.path == f"/recordings/{recording.pk}/"
    moment = float(parse_qs(link.query)["t"][0])
    printed_before = next(t for t, kind, data in events if "before-check\r\n" in data)
    printed_after = next(t for t, kind, data in events if "after-check\r\n" in data)
    assert printed_before < moment < printed_after
    response, _ = await fetch(second_teacher, f"/checks/{run.pk}/recording/")
    assert response.status_code == 404
    cell = f"/classes/{(await lab_class(lab_instance)).pk}/cells/{lab_instance.student_id}/make.json"
    response, body = await fetch(teacher, cell)
    assert json.loads(body)["recording"] == f"/checks/{run.pk}/recording/"

    later = await database_sync_to_async(CheckRun.objects.create)(
        instance=lab_instance, step_id="make", state="failed", started_at=timezone.now())
    response, _ = await fetch(teacher, f"/checks/{later.pk}/recording/")
    assert response.status_code == 404
    response, body = await fetch(teacher, cell)
    assert json.loads(body)["recording"] is None


async def test_recordings_go_with_the_lab_instance(shell_agent, lab_instance, cookies, recording_dir):
    client, key = await open_shell(lab_instance.container, cookies["owner"])
    await client.type("echo gone-soon\n")
    await client.read_until(b"gone-soon\r\n")
    await client.type("exit\n")
    await client.closed()
    await ended_recording(key)
    assert (recording_dir / f"{key}.cast").exists()

    await database_sync_to_async(LabInstance.objects.filter(pk=lab_instance.pk).delete)()
    assert not await database_sync_to_async(Recording.objects.filter(key=key).exists)()
    async with asyncio.timeout(20):
        while (recording_dir / f"{key}.cast").exists():
            await asyncio.sleep(0.05)


async def test_an_instance_keeps_only_its_newest_recordings(shell_agent, lab_instance, cookies, recording_dir,
                                                             settings):
    settings.RECORDINGS_PER_INSTANCE = 2
    keys = []
    for n in range(3):
        client, key = await open_shell(lab_instance.container, cookies["owner"])
        await client.type(f"echo shell-{n}\n")
        await client.read_until(f"shell-{n}\r\n".encode())
        await client.type("exit\n")
        await client.closed()
        await ended_recording(key)
        keys.append(key)
    kept = await database_sync_to_async(lambda: set(Recording.objects.values_list("key", flat=True)))()
    assert kept == set(keys[1:])
    async with asyncio.timeout(20):
        while (recording_dir / f"{keys[0]}{SUFFIX}").exists():
            await asyncio.sleep(0.05)
    assert {path.name for path in recording_dir.iterdir()} == {f"{key}{SUFFIX}" for key in keys[1:]}


@pytest.fixture
def left_behind(lab_instance, owner, recording_dir):
    """What an agent that died leaves: a recording still open, and a file whose row was deleted meanwhile."""
    open_file, stray = recording_dir / f"left-open{SUFFIX}", recording_dir / f"stray{SUFFIX}"
    open_file.write_text('{"version": 2, "width": 80, "height": 24}\n[0.5, "o", "hi"]\n')
    stray.write_text('{"version": 2, "width": 80, "height": 24}\n')
    Recording.objects.create(key="left-open", instance=lab_instance, user=owner, node_name=lab_instance.container.node.name,
                             started_at=timezone.now())
    return open_file, stray


async def test_the_agent_at_its_start_ends_what_it_left_open_and_drops_stray_files(left_behind, shell_agent):
    open_file, stray = left_behind
    recording = await ended_recording("left-open")
    assert recording.size_bytes == open_file.stat().st_size
    assert recording.ended_at.timestamp() == pytest.approx(open_file.stat().st_mtime, abs=1e-3)
    assert not stray.exists()


async def forge(node_name, **message):
    """Sent as a compromised web process would: the first answer on the reply channel, or None."""
    layer = get_channel_layer(LAYER)
    reply = await layer.new_channel("forged.")
    await layer.send(node_channel(node_name), {"reply": reply, **message})
    try:
        return await asyncio.wait_for(layer.receive(reply), 5)
    except TimeoutError:
        return None


async def test_the_agent_gives_a_recording_only_to_whom_the_database_allows(
        shell_agent, lab_instance, cookies, recording_dir, teacher, other_student, second_teacher):
    client, key = await open_shell(lab_instance.container, cookies["owner"])
    await client.type("echo secret-$((6*7))\n")
    await client.read_until(b"secret-42\r\n")
    await client.type("exit\n")
    await client.closed()
    recording = await ended_recording(key)
    node_name = recording.node_name

    for intruder in (other_student, second_teacher):
        answer = await forge(node_name, type="recording.dump", recording=recording.pk, user=intruder.pk)
        assert answer == {"type": "recording.end", "error": "refused by the node"}
    answer = await forge(node_name, type="recording.dump", recording=recording.pk, user=teacher.pk)
    assert answer["type"] == "recording.chunk" and b"secret-42" in answer["data"]

    await forge(node_name, type="recording.forget", key=key)
    await forge(node_name, type="recording.forget", key="../../etc/passwd")
    assert (recording_dir / f"{key}{SUFFIX}").exists()
