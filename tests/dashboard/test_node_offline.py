"""A launch on a node whose runtime worker is down says so at once and runs
when that worker comes back (a second node, as in a multi-machine class)."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.nodes.models import Node

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_launch_on_an_offline_node_is_queued_and_runs_when_its_worker_returns(
    client_for, owner, busybox_image, start_node_worker, wait_until
):
    node_b = Node.objects.create(name="node-b", cpus=2)
    client = client_for(owner)
    response = client.post(
        reverse("containers:new"),
        {"image": busybox_image.id, "name": "later", "command": "sleep 3600", "memory_limit": "64m", "node": node_b.id},
    )
    container = Container.objects.get(name="later")
    assert response.status_code == 302
    page = client.get(reverse("containers:detail", args=[container.id])).content.decode()
    assert 'data-status="queued"' in page
    assert "queued: node offline" in page

    start_node_worker("node-b")
    wait_until(lambda: Container.objects.get(id=container.id).status == "running")
    client.post(reverse("containers:delete", args=[container.id]))
    wait_until(lambda: Container.objects.get(id=container.id).status == "deleted")
    assert Node.objects.get(name="node-b").worker_heartbeat_at is not None


def test_deleting_a_container_queued_for_an_offline_node_is_immediate(client_for, owner, busybox_image):
    node_b = Node.objects.create(name="node-b", cpus=2)
    client = client_for(owner)
    client.post(reverse("containers:new"), {"image": busybox_image.id, "name": "never", "node": node_b.id})
    container = Container.objects.get(name="never")
    client.post(reverse("containers:delete", args=[container.id]))
    container.refresh_from_db()
    assert container.status == "deleted"
    assert list(container.events.values_list("kind", flat=True)) == ["created", "deleted"]
