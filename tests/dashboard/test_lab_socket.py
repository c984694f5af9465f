"""A lab page's socket: who asks is checked before accept (another student's
instance is refused), the state comes first, then again as it changes, as
its own user may see it."""

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.labs.labfile import parse_lab
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.labs.push import instance_changed
from dashboard.labs.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
APP = URLRouter(websocket_urlpatterns)
LAB = b"title: T\nimage: busybox\nsteps:\n  - {id: one, title: One, text: x, check: {run: 'false'}}\n"


@pytest.fixture
def instance(owner, teacher, node):
    image = Image.objects.create(name="busybox", owner=owner, node=node, status="ready", visibility="shared")
    lab = Lab.objects.create(owner=teacher, title="T", image=image, definition=parse_lab({"lab.yaml": LAB}).definition,
                             source=LAB, assigned_to_all=True)
    container = Container.objects.create(owner=owner, image=image, node=node, name="lab", status="running")
    return LabInstance.objects.create(lab=lab, student=owner, container=container, status="ready")


async def connect(user, instance_id):
    communicator = WebsocketCommunicator(APP, f"/ws/labs/instances/{instance_id}/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_another_student_or_nobody_is_refused_before_accept(instance, other_student):
    for user in (other_student, AnonymousUser()):
        communicator, connected, code = await connect(user, instance.pk)
        assert not connected and code in (4403, 4404)
        await communicator.disconnect()


async def test_the_student_gets_the_state_then_each_change(instance, owner):
    communicator, connected, _ = await connect(owner, instance.pk)
    assert connected
    first = await communicator.receive_json_from(timeout=5)
    assert first["status"] == "ready" and first["steps"][0] == {**first["steps"][0], "id": "one", "state": "pending"}
    await sync_to_async(CheckRun.objects.create)(instance=instance, step_id="one", state="error", exit_code=127,
                                                 message="exit 127", output="sh: x: not found")
    await sync_to_async(instance_changed)(instance_group=instance.group, step_id="one")
    update = await communicator.receive_json_from(timeout=5)
    step = update["steps"][0]
    assert step["state"] == "error" and step["output"] == "" and "teacher" in step["message"]
    await communicator.disconnect()


async def test_the_teacher_sees_why_a_check_is_broken(instance, teacher):
    await sync_to_async(CheckRun.objects.create)(instance=instance, step_id="one", state="error", exit_code=127,
                                                 message="exit 127", output="sh: x: not found")
    communicator, connected, _ = await connect(teacher, instance.pk)
    assert connected
    step = (await communicator.receive_json_from(timeout=5))["steps"][0]
    assert step["message"] == "exit 127" and step["output"] == "sh: x: not found"
    await communicator.disconnect()
