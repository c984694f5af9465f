"""The node agent's heartbeat: it keeps the Node row's capacity fresh and makes
the rows say what the runtime says, even for containers that died while no
worker was watching."""

import os
import signal

import psutil
import pytest
from django.conf import settings

from dashboard.containers.models import Container
from dashboard.nodes.heartbeat import beat
from dashboard.nodes.models import Node

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_heartbeat_records_this_machines_capacity(runtime_env):
    beat(settings.NODE_NAME)
    node = Node.objects.get(name=settings.NODE_NAME)
    assert node.cpus == psutil.cpu_count()
    assert node.memory_bytes == psutil.virtual_memory().total
    assert 0 < node.memory_free_bytes <= node.memory_bytes
    assert node.cgroup_version in ("v1", "v2")
    assert node.is_alive


def test_a_container_killed_while_nobody_watched_becomes_exited(running_container):
    from runtime import Runtime

    rt = Runtime(root=settings.TERRARIUM_ROOT)
    os.kill(rt.get(running_container.runtime_name).pid, signal.SIGKILL)
    rt.wait(running_container.runtime_name, timeout=30)
    beat(settings.NODE_NAME)
    container = Container.objects.get(id=running_container.id)
    assert container.status == "exited"
    assert container.exit_code is not None
    assert container.finished_at is not None
    assert container.events.filter(kind="exited").count() == 1


def test_a_container_removed_behind_the_dashboards_back_becomes_exited(running_container):
    from runtime import Runtime

    Runtime(root=settings.TERRARIUM_ROOT).delete(running_container.runtime_name, force=True)
    beat(settings.NODE_NAME)
    container = Container.objects.get(id=running_container.id)
    assert container.status == "exited"
    assert container.status_detail == "gone from the runtime"


def test_a_running_container_is_left_alone(running_container):
    beat(settings.NODE_NAME)
    assert Container.objects.get(id=running_container.id).status == "running"


def test_an_exited_container_removed_behind_the_dashboards_back_says_it_is_gone(running_container):
    from runtime import Runtime

    rt = Runtime(root=settings.TERRARIUM_ROOT)
    rt.stop(running_container.runtime_name, timeout=1)
    beat(settings.NODE_NAME)
    container = Container.objects.get(id=running_container.id)
    assert (container.status, container.status_detail) == ("exited", "")
    rt.delete(running_container.runtime_name)
    beat(settings.NODE_NAME)
    container = Container.objects.get(id=running_container.id)
    assert (container.status, container.status_detail) == ("exited", "gone from the runtime")
