"""The grid's socket: only the class's teacher and assistants (refused before
accept); the grid first, then again when a student's check result is stored
(the labs' node half announces it on the instance's group), when a student
joins or starts the lab; a burst of results makes at most one message per
second: the first at once, the rest of that second in one more. An
assistant taken off the class loses the open socket."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from class_helpers import check, enrol_with_instance, make_class, make_lab
from dashboard.asgi import application
from dashboard.classes.models import Enrolment
from dashboard.classes.routing import websocket_urlpatterns
from dashboard.classes.services import class_join
from dashboard.labs.models import LabInstance
from dashboard.labs.push import instance_changed
from dashboard.revocation import CLOSE_REVOKED

pytestmark = pytest.mark.django_db(transaction=True)
APP = URLRouter(websocket_urlpatterns)


@pytest.fixture
def klass(teacher, node, assistant):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    klass.assistants.add(assistant)
    return klass


async def connect(user, class_id):
    communicator = WebsocketCommunicator(APP, f"/ws/classes/{class_id}/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


def state(grid, username, step):
    row = next(row for row in grid["rows"] if row["username"] == username)
    return next(cell["state"] for cell in row["cells"] if cell["step"] == step)


async def test_only_the_teacher_and_assistants_are_accepted(klass, teacher, assistant, second_teacher, owner):
    await sync_to_async(Enrolment.objects.create)(klass=klass, student=owner)
    for user in (second_teacher, owner, AnonymousUser()):
        communicator, connected, code = await connect(user, klass.pk)
        assert not connected and code in (4403, 4404)
    for user in (teacher, assistant):
        communicator, connected, _ = await connect(user, klass.pk)
        assert connected
        assert (await communicator.receive_json_from(timeout=5))["rows"][0]["username"] == "owner"
        await communicator.disconnect()


async def test_a_stored_check_result_reaches_the_grid(klass, teacher, owner):
    instance = await sync_to_async(enrol_with_instance)(klass=klass, student=owner)
    communicator, _, _ = await connect(teacher, klass.pk)
    assert state(await communicator.receive_json_from(timeout=5), "owner", "make") == "pending"
    await sync_to_async(check)(instance, "make", "passed")
    await sync_to_async(instance_changed)(instance_group=instance.group, step_id="make")
    assert state(await communicator.receive_json_from(timeout=5), "owner", "make") == "passed"
    await communicator.disconnect()


async def test_a_student_who_joins_then_starts_the_lab_is_followed(klass, teacher, owner):
    communicator, _, _ = await connect(teacher, klass.pk)
    assert (await communicator.receive_json_from(timeout=5))["rows"] == []
    await sync_to_async(class_join)(student=owner, code=klass.join_code, throttle_key="test")
    grid = await communicator.receive_json_from(timeout=5)
    assert grid["rows"][0]["instance_state"] == "not started"
    instance = await sync_to_async(LabInstance.objects.create)(lab=klass.lab, student=owner, status="creating")
    assert (await communicator.receive_json_from(timeout=5))["rows"][0]["instance_state"] == "starting"
    await sync_to_async(LabInstance.objects.filter(pk=instance.pk).update)(status="failed")
    await sync_to_async(instance_changed)(instance_group=instance.group)
    assert (await communicator.receive_json_from(timeout=5))["rows"][0]["instance_state"] == "failed"
    await communicator.disconnect()


def burst(instance, count):
    """`count` results stored and announced back to back, as a class clicking Check at once."""
    for n in range(count):
        check(instance, "make", "failed", message=f"try {n}", after_seconds=n)
        instance_changed(instance_group=instance.group, step_id="make")


async def test_a_burst_of_results_makes_one_message_then_one_more(klass, teacher, owner):
    instance = await sync_to_async(enrol_with_instance)(klass=klass, student=owner)
    communicator, _, _ = await connect(teacher, klass.pk)
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(burst)(instance, 30)
    messages = [await communicator.receive_json_from(timeout=5)]
    while not await communicator.receive_nothing(timeout=1.5):
        messages.append(await communicator.receive_json_from(timeout=5))
    assert len(messages) <= 2
    last = next(c for c in messages[-1]["rows"][0]["cells"] if c["step"] == "make")
    assert last["failures"] == 30 and last["message"] == "try 29"
    await communicator.disconnect()


async def test_an_assistant_taken_off_the_class_loses_the_open_socket(klass, assistant):
    client = Client()
    await sync_to_async(client.force_login)(assistant)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(application, f"/ws/classes/{klass.pk}/", headers=headers)
    assert (await communicator.connect(timeout=10))[0]
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(klass.assistants.remove)(assistant)
    async with asyncio.timeout(5):
        while (message := await communicator.receive_output(5))["type"] != "websocket.close":
            pass
    assert message["code"] == CLOSE_REVOKED
