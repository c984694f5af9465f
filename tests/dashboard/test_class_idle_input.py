"""Typing in the terminal is activity for a class's idle limit: the node
agent (in this process) notes the student's input, and the idle pass of the
node half reads it, on a real container through the real shell socket."""

import asyncio
from datetime import timedelta

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from shell_helpers import ShellClient, shell_path

from class_helpers import make_class, make_lab
from dashboard.classes.activity import last_inputs
from dashboard.classes.models import Enrolment
from dashboard.classes.node import classes_limits_enforce_on_node
from dashboard.containers.models import Container
from dashboard.labs.models import LabInstance
from dashboard.shell.models import ShellSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
IDLE_LIMIT = 600
AN_HOUR_AGO = timedelta(hours=1)


@pytest.fixture
def instance(teacher, owner, node, running_container):
    """`owner`'s instance in a class with an idle limit, on a real container, made an hour ago."""
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node), idle_limit_seconds=IDLE_LIMIT)
    Enrolment.objects.create(klass=klass, student=owner)
    then = timezone.now() - AN_HOUR_AGO
    return LabInstance.objects.create(lab=klass.lab, student=owner, container=running_container, status="ready",
                                      created_at=then, ready_at=then)


@pytest.fixture
def cookie(session_cookie_for, owner):
    return session_cookie_for(owner)


@pytest.fixture
def input_keys():
    """Shell keys whose input records are removed from Redis at the end."""
    keys = []
    yield keys
    r = redis.Redis.from_url(settings.REDIS_URL)
    for key in keys:
        r.delete(f"terrarium:classes:input:{key}")
    r.close()


def opened_an_hour_ago(key):
    ShellSession.objects.filter(key=key).update(opened_at=timezone.now() - AN_HOUR_AGO)


def enforce(after_seconds):
    return classes_limits_enforce_on_node(node_name=settings.NODE_NAME,
                                          now=timezone.now() + timedelta(seconds=after_seconds))


async def test_typing_in_the_terminal_keeps_the_instance_from_suspending(shell_agent, instance, cookie, input_keys):
    client = await ShellClient(shell_path(instance.container), cookie).connect()
    key = await client.session_id()
    input_keys.append(key)
    await database_sync_to_async(opened_an_hour_ago)(key)
    await client.type("echo $((6*7))\n")
    await client.read_until(b"42\r\n")
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(last_inputs, [key]):
            await asyncio.sleep(0.05)

    assert await database_sync_to_async(enforce)(IDLE_LIMIT - 60) == {}
    assert (await Container.objects.aget(pk=instance.container_id)).status == "running"
    assert await database_sync_to_async(enforce)(IDLE_LIMIT + 60) == {instance.pk: "suspended"}
    await client.disconnect()
