"""The node agent trusts nothing on the channel layer: messages forged by a
compromised web process (or anyone who reaches Redis) open no shell, grant
no keyboard and read no log that the database does not allow."""

import asyncio
import logging
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from shell_helpers import ShellClient, shell_path

from dashboard.containers.models import Container
from dashboard.nodes.models import Node
from dashboard.shell.models import ShellSession
from dashboard.shell.services import ShellLimitReached, shell_session_open
from dashboard.shell.wire import LAYER, node_channel
from runtime import Runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def cookies(session_cookie_for, owner, other_student, teacher):
    return {user.username: session_cookie_for(user) for user in (owner, other_student, teacher)}


def _processes_in(container) -> int:
    paths = Runtime(root=settings.TERRARIUM_ROOT).inspect(container.runtime_id)["cgroup_paths"]
    path = next(iter(paths.values())) if isinstance(paths, dict) else paths[0]
    return len(Path(path, "cgroup.procs").read_text().split())


async def _forge(node, **message):
    """Send as a compromised web process would; what comes back on the reply channel (or None)."""
    layer = get_channel_layer(LAYER)
    reply = await layer.new_channel("forged.")
    await layer.send(node_channel(node.name), {"reply": reply, **message})
    try:
        return await asyncio.wait_for(layer.receive(reply), 5)
    except TimeoutError:
        return None


async def test_an_open_for_a_session_that_does_not_exist_is_refused(shell_agent, running_container, owner, node, caplog):
    before = await database_sync_to_async(_processes_in)(running_container)
    with caplog.at_level(logging.WARNING, logger="dashboard.shell.agent"):
        answer = await _forge(node, type="open", session="made-up", user=owner.pk, rows=24, cols=80,
                              container=running_container.runtime_id)
    assert answer["type"] == "shell.error"
    assert "refused open" in caplog.text and "no open shell session" in caplog.text
    await asyncio.sleep(0.5)
    assert await database_sync_to_async(_processes_in)(running_container) == before


async def test_an_open_in_another_users_session_is_refused(shell_agent, running_container, owner, other_student,
                                                           node, caplog):
    session = await database_sync_to_async(shell_session_open)(container=running_container, user=owner)
    before = await database_sync_to_async(_processes_in)(running_container)
    with caplog.at_level(logging.WARNING, logger="dashboard.shell.agent"):
        answer = await _forge(node, type="open", session=session.key, user=other_student.pk, rows=24, cols=80)
    assert answer["type"] == "shell.error" and "may not type in" in caplog.text
    await asyncio.sleep(0.5)
    assert await database_sync_to_async(_processes_in)(running_container) == before


async def test_an_open_for_a_container_on_another_node_is_refused(shell_agent, running_container, owner, node, caplog):
    def elsewhere():
        other = Node.objects.create(name="elsewhere")
        twin = Container.objects.create(owner=owner, image=running_container.image, node=other, name="twin",
                                        status="running", runtime_id=running_container.runtime_id)
        return ShellSession.objects.create(key="twin-session", container=twin, user=owner)

    session = await database_sync_to_async(elsewhere)()
    with caplog.at_level(logging.WARNING, logger="dashboard.shell.agent"):
        answer = await _forge(node, type="open", session=session.key, user=owner.pk, rows=24, cols=80)
    assert answer["type"] == "shell.error" and "another node" in caplog.text


async def test_a_writable_attach_is_granted_only_to_the_sessions_user(shell_agent, running_container, cookies, node,
                                                                       other_student, teacher, caplog):
    client = await ShellClient(shell_path(running_container), cookies["owner"]).connect()
    key = await client.session_id()
    with caplog.at_level(logging.WARNING, logger="dashboard.shell.agent"):
        for user in (other_student, teacher):
            answer = await _forge(node, type="attach", session=key, user=user.pk, readonly=False)
            assert answer["type"] == "shell.error"
        assert (await _forge(node, type="attach", session=key, user=other_student.pk, readonly=True))["type"] == "shell.error"
        watched = await _forge(node, type="attach", session=key, user=teacher.pk, readonly=True)
    assert watched["type"] != "shell.error"
    assert caplog.text.count("refused attach") == 3
    await client.type("exit\n")
    await client.closed()


async def test_a_log_is_read_only_for_its_owner_or_a_teacher(shell_agent, running_container, node, other_student,
                                                             caplog):
    with caplog.at_level(logging.WARNING, logger="dashboard.shell.agent"):
        for kind in ("logs.follow", "logs.dump"):
            answer = await _forge(node, type=kind, container=running_container.runtime_id, user=other_student.pk)
            assert answer["type"] == "shell.error"
    assert caplog.text.count("may not read the log") == 2


async def test_a_user_opens_no_more_shells_than_the_quota_allows(shell_agent, running_container, cookies, owner):
    quota = await database_sync_to_async(lambda: owner.quota if hasattr(owner, "quota") else None)()
    limit = quota.max_shells if quota else 4
    clients = [await ShellClient(shell_path(running_container), cookies["owner"]).connect() for _ in range(limit)]
    for client in clients:
        await client.session_id()
    one_more = await ShellClient(shell_path(running_container), cookies["owner"]).connect()
    assert await one_more.closed() == 4409
    assert any("shells open" in c.get("message", "") for c in one_more.controls)
    with pytest.raises(ShellLimitReached):
        await database_sync_to_async(shell_session_open)(container=running_container, user=owner)
    for client in clients:
        await client.type("exit\n")
        await client.closed()
