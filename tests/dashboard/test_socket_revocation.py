"""An open WebSocket closes within 5 s of its user's logout, password
change or loss of role, or of its container's deletion."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client


from dashboard.accounts.roles import TEACHERS_GROUP
from dashboard.asgi import application
from dashboard.containers.models import Container
from dashboard.revocation import CLOSE_REVOKED

pytestmark = pytest.mark.django_db(transaction=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def _open(client, path):
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=10)
    assert connected
    return ws


async def _closed_within(ws, seconds=5) -> int:
    async with asyncio.timeout(seconds):
        while True:
            message = await ws.receive_output(seconds)
            if message["type"] == "websocket.close":
                return message.get("code")


async def _stays_open(ws, seconds=3) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while (await ws.receive_output(seconds))["type"] != "websocket.close":
                pass
    except TimeoutError:
        return True
    return False


@pytest.fixture
def stopped_container(owner, busybox_image, node):
    return Container.objects.create(owner=owner, image=busybox_image, node=node, name="quiet", status="exited",
                                    runtime_id="0" * 64)


async def test_a_socket_closes_after_logout(owner):
    client = await sync_to_async(_logged_in)(owner)
    ws = await _open(client, "/ws/stats/overview/")
    await sync_to_async(client.post)("/logout/")
    assert await _closed_within(ws) == CLOSE_REVOKED


async def test_a_socket_closes_after_a_password_change(owner):
    client = await sync_to_async(_logged_in)(owner)
    ws = await _open(client, "/ws/stats/overview/")

    def change():
        owner.set_password("a-new-long-passphrase-42")
        owner.save()

    await database_sync_to_async(change)()
    assert await _closed_within(ws) == CLOSE_REVOKED


async def test_a_teacher_who_loses_the_role_loses_a_students_graphs(teacher, stopped_container):
    client = await sync_to_async(_logged_in)(teacher)
    ws = await _open(client, f"/ws/containers/{stopped_container.pk}/stats/")
    assert await _stays_open(ws)
    await database_sync_to_async(lambda: teacher.groups.remove(Group.objects.get(name=TEACHERS_GROUP)))()
    assert await _closed_within(ws) == CLOSE_REVOKED


async def test_a_socket_closes_when_its_container_is_deleted(owner, stopped_container):
    client = await sync_to_async(_logged_in)(owner)
    ws = await _open(client, f"/ws/containers/{stopped_container.pk}/stats/")
    assert await _stays_open(ws)
    await database_sync_to_async(Container.objects.filter(pk=stopped_container.pk).update)(status="deleting")
    assert await _closed_within(ws) == CLOSE_REVOKED


async def test_a_shell_closes_after_logout(shell_agent, running_container, owner):
    client = await sync_to_async(_logged_in)(owner)
    ws = await _open(client, f"/ws/containers/{running_container.pk}/shell/?rows=24&cols=80")
    await sync_to_async(client.post)("/logout/")
    assert await _closed_within(ws) == CLOSE_REVOKED
