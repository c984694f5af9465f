"""The container lifecycle through the real stack: pages post to services, the
real Celery worker runs the tasks against the real runtime, the rows follow."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SERVICE = "sh -c 'while true; do sleep 1; done'"


def status_of(container_id):
    return Container.objects.get(id=container_id).status


def launch(client, image, **fields):
    data = {"image": image.id, "name": "web", "command": SERVICE, "memory_limit": "64m", **fields}
    response = client.post(reverse("containers:new"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Container.objects.get(name=data["name"])


def test_a_launched_container_runs_stops_and_is_deleted(client_for, owner, busybox_image, worker, wait_until):
    client = client_for(owner)
    container = launch(client, busybox_image)
    wait_until(lambda: status_of(container.id) == "running")
    container.refresh_from_db()
    assert container.memory_bytes == 64 << 20
    assert container.runtime_id

    assert client.post(reverse("containers:stop", args=[container.id])).status_code == 302
    wait_until(lambda: status_of(container.id) == "exited")
    container.refresh_from_db()
    assert container.exit_code is not None

    assert client.post(reverse("containers:delete", args=[container.id])).status_code == 302
    wait_until(lambda: status_of(container.id) == "deleted")
    kinds = list(container.events.values_list("kind", flat=True))
    assert kinds == ["created", "started", "stopped", "deleted"]


def test_a_stopped_container_starts_again_and_restarts(client_for, owner, busybox_image, worker, wait_until):
    client = client_for(owner)
    container = launch(client, busybox_image)
    wait_until(lambda: status_of(container.id) == "running")
    client.post(reverse("containers:stop", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "exited")

    client.post(reverse("containers:start", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "running")
    client.post(reverse("containers:restart", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "running" and container.events.filter(kind="started").count() == 3)

    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "deleted")


def test_a_container_that_exits_by_itself_shows_its_exit_code(client_for, owner, busybox_image, worker, wait_until):
    client = client_for(owner)
    container = launch(client, busybox_image, command="sh -c 'sleep 0.5; exit 3'")
    wait_until(lambda: status_of(container.id) == "exited")
    container.refresh_from_db()
    assert container.exit_code == 3
    assert list(container.events.values_list("kind", flat=True)) == ["created", "started", "exited"]
    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "deleted")


def test_a_bad_command_fails_with_the_runtime_message(client_for, owner, busybox_image, worker, wait_until):
    client = client_for(owner)
    container = launch(client, busybox_image, command="/no/such/program")
    wait_until(lambda: status_of(container.id) in ("failed", "exited"))
    container.refresh_from_db()
    assert container.status_detail or container.exit_code not in (None, 0)
    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: status_of(container.id) == "deleted")


def test_the_status_json_follows_the_runtime(client_for, owner, busybox_image, worker, wait_until):
    client = client_for(owner)
    container = launch(client, busybox_image)
    url = reverse("containers:status", args=[container.id])
    wait_until(lambda: client.get(url).json()["status"] == "running")
    assert client.get(url).json()["actions"] == ["delete", "restart", "stop"]
    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: client.get(url).json()["status"] == "deleted")
